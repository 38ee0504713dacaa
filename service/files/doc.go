// Package files serves chatd's file port (section 9 of the wire contract):
// short-lived TCP connections that each carry exactly one upload or one
// download, handled by a bounded pool of goroutines so that file bytes never
// cross the chat port or touch the reactor's event loops. It issues and
// verifies the signed, expiring, single-purpose transfer tokens, keeps
// uploads resumable as <id>.part files in the data directory, verifies their
// SHA-256 before atomically renaming them to <id>, streams downloads with the
// kernel's sendfile path, and removes stale partial uploads. File work
// yields to chat in two ways: hashing and copying hold one of GOMAXPROCS-1
// CPU slots, so they always leave a processor to the chat loops; and
// transfers are paced as background traffic, slowed down while they make
// the process's threads wake late (pacer.go), under an optional fixed
// byte-rate cap. Uploads hand their bytes to the kernel's writeback as they
// arrive (writebehind.go), so finishing one does not make the store's
// fsyncs wait behind hundreds of MiB. It knows nothing about chat: a verified upload is reported through
// Config.OnComplete, and file metadata comes from a Meta (store.Store
// satisfies it).
package files
