// Package websocket is RFC 6455 (WebSocket, version 13) for servers built on
// the reactor. Layer runs it on a connection's loop as a reactor.Layer (the
// handler sees whole messages in OnData and its writes leave as binary
// messages; reactor/sniff pushes it when a client's first bytes are "GET ").
// Under it is a codec without I/O: the HTTP/1.1 upgrade handshake
// (Config.Upgrade parses a request from bytes as they arrive and builds the
// 101 or the 400/403/404/405/426/431 answer: path check, Origin hook,
// subprotocol selection), and Session, which decodes the client's frames
// from bytes as they arrive (any split), unmasks them, reassembles
// fragmented messages (control frames may come between fragments), answers
// pings with pongs and the close handshake with a close frame, and fails the
// connection with the status RFC 6455 asks for: 1002 for protocol errors
// (unmasked client frames, reserved bits or opcodes, bad fragmentation,
// oversized or fragmented control frames, invalid close codes), 1007 for
// text that is not UTF-8 (checked fragment by fragment, so a bad fragment
// fails at once), 1009 for a message over the size limit (decided from the
// frame header, before its payload is buffered) and, with
// Config.BinaryOnly, 1003 for text. A message reaches Receiver.OnMessage
// whole. Server frames are built by AppendServerHeader, so a payload can go
// out with writev behind its header without being copied.
//
// Memory: a Session is 40 bytes and a Layer 72; they hold a buffer only
// while a fragmented message is in flight, and an unfragmented message is
// unmasked and delivered in place, in the caller's input buffer. The upgrade
// allocates one copy of the request head, dropped once it is answered.
//
// Conformance: the tests port the server cases of the Autobahn testsuite
// (crossbario/autobahn-testsuite) for categories 1 (framing), 2 (pings and
// pongs), 3 (reserved bits), 4 (opcodes), 5 (fragmentation), 6 (UTF-8), 7
// (close handling) and 9 (limits and performance: messages up to 16 MiB,
// fragmented and chopped), written anew as Go tables and run twice: against
// the codec, and through a reactor engine over TCP with the Layer and an
// echo handler (under the race detector, category 9 runs at 1/16 of its
// sizes, so its 16 MiB messages become 1 MiB). Categories 10
// (auto-fragmentation), 12 and 13 (permessage-deflate, which this package
// does not offer) are not covered.
// Text that is invalid inside one frame fails when that frame is complete,
// not at the offending byte, which Autobahn grades as non-strict in 6.4.3
// and 6.4.4.
package websocket
