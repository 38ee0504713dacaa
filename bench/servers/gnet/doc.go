// Command gnet is the bench server on github.com/panjf2000/gnet/v2, used the
// way its documentation recommends: echo takes the inbound bytes with
// Conn.Next(-1) and writes them back with Conn.Write inside OnTraffic;
// broadcast copies the complete frames of one OnTraffic call once and hands
// that slice to every receiver with Conn.AsyncWrite, gnet's concurrency-safe
// way to write to a connection owned by another event loop. (Writing
// directly with Conn.Write to receivers on the sender's own loop was tried
// and measured worse: about 1 write syscall per delivery and ~2.7 µs of
// server CPU per delivery against ~0.5 and ~1.4-2 µs with AsyncWrite, whose
// queued writes gnet coalesces in the outbound buffer.) -loops sets
// WithNumEventLoop with multicore on; everything else is gnet's default.
package main
