// Command chatd is the chatd instant-messaging server. With no arguments it
// serves the chat protocol on :9000 and file transfers on :9001, answers
// LAN discovery on UDP :9002, serves the admin HTTP listener (/metrics,
// /healthz, /readyz, /debug/pprof) on 127.0.0.1:9090, and keeps an embedded
// SQLite store, uploaded files and the file token key under ./chatd-data
// (the store can be MySQL/MariaDB instead, with --mysql-dsn). Every flag
// can also be set by an environment variable (CHATD_ and the flag name in
// upper snake case: --chat-addr is CHATD_CHAT_ADDR) or by a --config file
// of `key = value` lines whose keys are flag names (see
// chatd.conf.example); a flag beats the environment, which beats the file,
// which beats the default. `chatd version` prints the build, `chatd
// migrate` applies the store's schema migrations and exits, `chatd backup
// --out FILE` copies the embedded store consistently while chatd serves and
// `chatd restore --from FILE` puts a copy back with chatd stopped, and
// `chatd user list|show|disable|enable|reset-password|delete` manage
// accounts; these admin commands work offline on the store the same
// settings name (a running chatd is told through its admin listener to
// kick the sessions of a disabled, reset or deleted account and to tell a
// deleted account's friends and groups). SIGINT or
// SIGTERM shuts down gracefully: new requests get UNAVAILABLE, in-flight
// sends commit and are answered, queues flush, file transfers get what is
// left of --shutdown-timeout, the store closes, and chatd exits 0; a second
// signal kills it at once.
package main
