// Package service is chatd's chat server core: it owns the sessions,
// routing and business rules of the chat port (accounts, presence,
// profiles, friends, messages, groups and rooms of the wire contract).
//
// Request path: a reactor loop calls OnData with the bytes read; frames are
// cut with protocol.Decode (a bad length closes the connection with nothing
// more sent). Cheap answers are given inline on the loop: ping,
// UNSUPPORTED_OP, BAD_REQUEST from decoding, UNAUTHENTICATED, RATE_LIMITED,
// UNAVAILABLE while shutting down, and the room.media relay. Everything
// that touches the store or argon2 goes to a bounded reactor.Pool keyed by
// the connection id, so one connection's requests run one at a time in
// order while different connections run in parallel; a full pool answers
// UNAVAILABLE. Workers call store.Store, update the in-memory state, and
// write replies and pushes back with Conn.Write of frames encoded once; a
// fan-out (group message, presence, profile and group events, room.event
// and room.said) queues the same []byte on every recipient with
// reactor.WriteBatch, one queue lock per loop per chunk (fanout.go), while
// room.media stays on per-connection lossy writes.
//
// State and ownership: the Router (who is online on which connection) and
// Rooms are interfaces with in-memory defaults so a multi-node version can
// replace them; their reads take no lock (sync.Map plus copy-on-write
// slices behind atomic pointers). The group member cache is the same
// pattern, so a fan-out to a 1,000-member group is one atomic load for the
// set and one per member for its sessions. Per-connection state (session,
// rooms, message rate limiter) lives in the reactor Conn's context.
//
// Ordering guarantees: replies and pushes of one request are written in
// order by one worker. Message pushes follow each conversation's seq order
// even when two senders' appends finish out of order (sequencer.go). After
// a login the reply comes first, then pending friend requests, unnotified
// answers and missed messages per conversation in seq order; live pushes
// arriving meanwhile are held in the session and released after the
// backlog, without the messages it already carried (session.go holds them,
// backlog.go sends the backlog).
//
// Files: each feature's handlers are in <feature>.go (accounts, profiles,
// friends, messages, groups, rooms, files) and its in-memory state, when it
// has some, in <feature>state.go (groupstate.go, roomstate.go). friends.go
// is all of friends, including each session's friend set, presence pushes
// and the friend notices of the login backlog; backlog.go is the login
// backlog; files.go is the front door of package files (the file ops of the
// chat port and the upload-complete hook). The request path is conn.go
// (frames off the loop), dispatch.go (the op table, run, replies),
// sequencer.go and fanout.go (ordered delivery), session.go and router.go
// (who is online), cluster.go (several nodes as one: pushUsers is the one
// place a push leaves, to local sessions and to other nodes over the bus;
// see docs/cluster.md).
//
// Adding an op: once it is declared in protocol (see the protocol package
// doc), write one handler, func (s *Server) fooBar(x *call, req
// *protocol.FooBarReq) (*protocol.FooBarResp, error), in the file of its
// feature, and register it in buildOps (dispatch.go) with
// handle(s, protocol.FooBar, s.fooBar). The request arrives decoded and
// validated, after the login check and rate limit its declaration asks for;
// the handler returns its reply or an error (protocol errors go out as they
// are, store sentinels map to their codes, anything else is INTERNAL), and
// run sends it. Tests go next to the handler's (helpers_test.go has a
// client that speaks frames).
package service
