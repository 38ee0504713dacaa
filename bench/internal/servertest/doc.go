// Package servertest checks a bench server in-process (over TCP, or over
// WebSocket for the ws-* servers): it starts the server's serve function on
// a free loopback port and asserts that echo returns every byte in order
// and that broadcast delivers each frame, whole and in the sender's order,
// to every client including the sender.
package servertest
