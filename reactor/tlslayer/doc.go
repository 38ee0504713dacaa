// Package tlslayer runs TLS (crypto/tls, 1.2 and 1.3) on reactor
// connections as a reactor.Layer: records are decrypted on the loop into the
// handler's OnData and the handler's writes are encrypted on the loop into
// the same outbound queue, so writev batching and MaxOutbound (counting
// ciphertext) keep working.
//
// crypto/tls is driven through an in-memory transport. The handshake, which
// blocks and costs CPU (signatures, key exchange), runs on a short-lived
// goroutine per connection: Options.MaxHandshakes caps how many are in
// flight (more are refused), Options.HandshakeCPU caps how many compute at
// once (a handshake waiting for the peer's next flight gives its turn up), so
// a flood of handshakes leaves CPU to the loops, and a handshake that does not
// finish within Options.HandshakeTimeout closes its connection. Once the
// handshake is done the goroutine exits and the loop owns the tls.Conn: it
// feeds whole records to it and reads until the transport reports that it
// would block. crypto/tls keeps a net.Error whose Temporary() is true from
// becoming sticky (conn.go, readRecordOrCCS), which is what lets a Read on
// the loop return instead of blocking.
//
// An idle connection keeps as little as crypto/tls allows: the record input
// buffers are lent per feed (trim.go), the handshake's state goes with its
// goroutine, a server drops its resumption secret once the session ticket is
// sent, and a TLS 1.3 AES-GCM connection that had no records for a second or
// two lets its two record ciphers go (ciphers.go: about 1.7 KB, rebuilt from
// the traffic key on the next record, which costs about a microsecond). One
// sweeper goroutine per Config finds quiet connections; there is no timer
// per connection. Measured at 10,000 idle TLS 1.3 connections: about 2.0 KB
// of live heap per connection, of which crypto/tls's Conn is 896 bytes.
//
// Renegotiation is refused (crypto/tls's default for servers, and
// tls.RenegotiateNever is forced for clients). Conn.Close sends close_notify
// after the queued output; a close_notify received closes the connection
// gracefully with io.EOF; a peer that just drops the TCP connection closes it
// with io.EOF too. Certificates can be replaced without a restart through
// tls.Config.GetCertificate; CertReloader does that for a cert/key file pair.
// Options.OnHandshake sees the negotiated ALPN protocol and SNI name before
// the first byte is delivered, and Layer.ConnectionState reports them after.
package tlslayer
