// Command net is the bench server on package net with one goroutine per
// connection, the baseline every event-loop library is compared against.
// Echo reads into a 4 KiB buffer (bufio's default size) and writes back what
// it read. Broadcast gives each connection a writer goroutine fed by a
// buffered channel that writes everything queued with one writev
// (net.Buffers); a receiver whose channel is full is closed as a slow
// consumer so that a sender never blocks on it. -loops is accepted for
// uniformity and ignored: the Go scheduler is the event loop here.
package main
