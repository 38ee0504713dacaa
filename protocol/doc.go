// Package protocol is the single Go implementation of the chatd wire protocol
// (version 1, described in docs/protocol.md; golden frames in testdata): frame
// encoding and incremental decoding, the op table, reply codes and the error
// type, typed structs for every JSON request, reply and push body, the binary
// room.media bodies, the file-port handshake, conversation ids, LAN discovery
// and validation of the contract's limits. It performs no I/O, so the server,
// the client SDK, the terminal client and the load tester all share exactly
// the same encoder and decoder.
//
// Adding an op: write its request and reply (or push) body types in the
// body_*.go file of its family, with RequiredFields and Validate; give it a
// code constant in op.go; declare it once in ops.go (a request with
// request[Req, Rep](code, name, flags), flags saying whether it needs login
// and whether it counts against the message rate; a push with
// push[Body](code, name)); add samples and golden vectors so the round-trip,
// fuzz and vector tests cover it. The server then registers one handler
// for it (see package service).
package protocol
