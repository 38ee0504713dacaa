// Package discovery answers chatd's LAN discovery datagrams (section 11 of
// the wire contract): a UDP responder that replies to exactly
// "CHATD DISCOVER 1" with a JSON object naming the server, its version and
// the chat and file addresses a client should connect to, and ignores every
// other datagram. An announced address whose host is empty or unspecified
// (":9000", "0.0.0.0:9000", "[::]:9000") is filled in, per requester, with
// this machine's address on the route back to that requester, so clients on
// any interface get an address they can reach. Replies are rate-bounded
// (globally and per source address) so the responder cannot be turned into
// a traffic amplifier by spoofed requests.
package discovery
