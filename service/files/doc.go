// Package files serves chatd's file port (section 9 of the wire contract):
// short-lived TCP connections that each carry exactly one upload or one
// download, handled by a bounded pool of goroutines so that file bytes never
// cross the chat port or touch the reactor's event loops. It issues and
// verifies the signed, expiring, single-purpose transfer tokens, keeps
// uploads resumable as <id>.part files in the data directory, verifies their
// SHA-256 before atomically renaming them to <id>, streams downloads with the
// kernel's sendfile path, and removes stale partial uploads. Hashing and
// copying hold one of GOMAXPROCS-1 CPU slots, and an optional byte-rate cap
// applies, so file load always leaves a processor to the chat loops. It
// knows nothing about chat: a verified upload is reported through
// Config.OnComplete, and file metadata comes from a Meta (store.Store
// satisfies it).
package files
