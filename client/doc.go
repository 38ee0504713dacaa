// Package client is the Go SDK for chatd: it dials the chat port, logs in,
// exposes every request of the wire contract as a typed method with a
// context, matches pipelined replies to requests by req_id, delivers server
// pushes on a channel or a callback, reconnects with backoff and a token
// re-login, resynchronises missed messages without showing one twice, and
// moves files over the file port with progress callbacks and resume. The
// terminal client, the load tester and the end-to-end tests are built on
// it; a Client is safe for concurrent use.
//
// Several nodes: Dial takes a comma-separated list of the chat ports of
// the nodes of one server (protocol section 19). New clients spread over
// them, a refused address is skipped, and with Options.Reconnect a client
// whose node goes away (killed, or shut down: the node answers
// UNAVAILABLE, then closes) fails over to the next node, logs in there with
// its token and catches up as after any reconnect, so nothing is lost or
// shown twice.
//
// Errors: a reply whose code is not OK is returned as a *protocol.Error
// (use errors.As, or protocol.CodeOf); a connection that breaks before the
// reply gives ErrConnLost, a closed client ErrClosed, and a context that
// ends its error.
//
// Pushes: without Options.OnPush they arrive on the bounded channel
// returned by Pushes, which the application must keep draining. When it is
// full the client's reader waits, so replies wait too: nothing is dropped
// by the client (a long stall fills the server's outbound queue for the
// connection instead, where the server's limits apply). Never wait for a
// reply on the goroutine that drains Pushes.
//
// Messages: each msg push is delivered once per Client, also across
// reconnects, where the server pushes again everything above the ack
// cursor (the filter is keyed by conversation and seq, seeded from the
// cursors in the login reply). Call Ack for what the application has taken
// (stored or shown); what is not acked comes back after the next login,
// from this or another process, so nothing is lost. The server pushes at
// most 500 missed messages per conversation after a login; after a
// re-login of its own (Reconnect) the client fetches the rest and delivers
// them as msg pushes through the same filter, while after Login the
// application fetches them with SyncNew. Sends are idempotent by client_msg_id,
// so SendMsg retries a send whose reply was lost with the connection.
package client
