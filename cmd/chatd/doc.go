// Command chatd is the chatd instant-messaging server. With no arguments it
// serves the chat protocol on :9000, announces the file port :9001, answers
// LAN discovery on UDP :9002, serves the admin HTTP listener (/metrics,
// /healthz, /readyz, /debug/pprof) on 127.0.0.1:9090, and keeps its data in
// an embedded SQLite store under ./chatd-data (or MySQL/MariaDB with
// --mysql-dsn). Every flag can also be set by an environment variable
// (CHATD_ and the flag name in upper snake case: --chat-addr is
// CHATD_CHAT_ADDR) or by a --config file of `key = value` lines whose keys
// are flag names; a flag beats the environment, which beats the file, which
// beats the default. `chatd version` prints the build, `chatd migrate`
// applies the store's schema migrations and exits. SIGINT or SIGTERM shuts
// down gracefully: new requests get UNAVAILABLE, in-flight sends commit and
// are answered, queues flush, the store closes, and chatd exits 0; a second
// signal kills it at once.
package main
