// Package servicetest starts a real chatd in-process for tests of code
// that talks to it (the client SDK, the chat CLI and its TUI): a fresh
// SQLite store in a temporary directory, cheap argon2 hashing so that
// registering users costs microseconds, an optional file port, and
// shutdown registered with the test's Cleanup. It is test support only;
// production code must not import it.
package servicetest
