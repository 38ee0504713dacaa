// Package client is the Go SDK for chatd: it dials the chat port, logs in,
// exposes every request of the wire contract as a typed method with a
// context, matches pipelined replies to requests by req_id, delivers server
// pushes on a channel or a callback, reconnects with backoff and a token
// re-login, resynchronises missed messages without showing one twice, and
// moves files over the file port with progress callbacks and resume. The
// terminal client, the load tester and the end-to-end tests are built on it;
// a Client is safe for concurrent use.
package client
