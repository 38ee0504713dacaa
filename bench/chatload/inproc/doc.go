// Package inproc starts a complete chatd inside chatbench when no --addr
// is given: the embedded SQLite store in a temporary directory, the chat
// service on a loopback port, the file port, and the admin listener (for
// /metrics and pprof). Everything it starts it stops and removes on Close.
package inproc
