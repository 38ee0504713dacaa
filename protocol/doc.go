// Package protocol is the single Go implementation of the chatd wire protocol
// (version 1, described in docs/protocol.md; golden frames in testdata): frame
// encoding and incremental decoding, the op table, reply codes and the error
// type, typed structs for every JSON request, reply and push body, the binary
// room.media bodies, the file-port handshake, conversation ids, LAN discovery
// and validation of the contract's limits. It performs no I/O, so the server,
// the client SDK, the terminal client and the load tester all share exactly
// the same encoder and decoder.
package protocol
