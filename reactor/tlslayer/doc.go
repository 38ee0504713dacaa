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
// once (a handshake waiting for the peer's next flight gives its turn up),
// and on Linux a computing handshake's thread runs Options.HandshakeNice
// nice steps below the process (the goroutine is locked to it meanwhile),
// so a loop woken by an established connection preempts it even when other
// processes keep every core busy. A flood of handshakes thus leaves CPU to
// the loops, and a handshake that does not finish within
// Options.HandshakeTimeout closes its connection.
//
// After the handshake a connection takes one of two paths.
//
// TLS 1.3 on a server (record.go): the layer runs the record layer itself
// (RFC 8446 5 and 7.3) and drops the tls.Conn. It takes both directions'
// traffic secrets and sequence numbers out of crypto/tls (reflect, by field
// name and type), derives the keys and IVs, and uses them only after a probe
// sealed with each opens with crypto/tls's own cipher; records crypto/tls
// read but did not open are taken along. Records are then opened in place
// in the input the reactor hands to Decode and a run of them goes up to the
// handler as one slice; the handler's writes are packed into records of up
// to 16 KiB and sealed in place in room the reactor reserves at the end
// of the outbound queue (LayerIO.Reserve and Commit), so a record leaves
// from where it was sealed, writev batching and MaxOutbound (counting
// ciphertext) work as before, and no copy is made after sealing. KeyUpdate is taken (and answered when the client asks),
// close_notify closes gracefully with io.EOF, any other alert, handshake
// message or broken record closes the connection with an error naming the
// alert. An idle connection keeps its two traffic secrets, two sequence
// numbers and what ConnectionState reports: the scalars, ALPN protocol and
// SNI name, or the whole tls.ConnectionState when it carries more, such as
// client certificates (state.go); crypto/tls's exporter, behind
// ExportKeyingMaterial, only if Options.KeepExporter asks for it. The
// ciphers are built from the secrets when a record needs them and kept
// while records flow; a sweep lets them go once
// the connection is quiet, and the ones built for the first records after
// a quiet spell go as soon as those are handled, so a lone record (a
// heartbeat) does not pin them for a second or two (building both costs
// about 3 µs and 2.7 KB of garbage). Why: crypto/tls's Conn alone is 896
// bytes and keeps its record ciphers (about 1.7 KB with AES-GCM), and
// driving it on the loop costs locks, a copy of every record into its
// buffer and another of the plaintext out of it. Measured on the same
// machine: about 760 B of live heap per idle connection, about 350 B of
// it the reactor's own (BenchmarkIdleConnHeap, 2,000 connections;
// TestIdleConnHeap bounds it), where the crypto/tls path held 1,960 B and
// this path 1,200 B while it kept a whole tls.ConnectionState and the
// ciphers of a lone record, 870 B while it kept the exporter; idle RSS at
// 10,000 connections 1.9-2.0 KB (raw reactor 0.23 KB; 2.2 KB with the
// exporter, 2.6 KB while the reactor's layer stack had room for four
// layers, 4.5-4.8 KB before those changes, 5.4-6.1 KB on the crypto/tls
// path; bench/tls.sh's idle run, whose connections all send one
// record at the end). Most of what remains is the collector's headroom:
// the heap grows to twice its live size between collections and the
// scavenger keeps that much. Echo server CPU per message is 10-21% lower
// than the crypto/tls path's (3.35 instead of 4.16 µs at 100 connections
// × 64 B, 9.67 instead of 11.34 µs at 1,000 × 4 KiB; medians of 3
// alternating runs).
//
// TLS 1.2, a client (which would have to take session tickets), FIPS 140
// mode, and any Go release whose crypto/tls layout the checks do not
// recognise keep crypto/tls: the loop owns the tls.Conn, feeds whole
// records to it and reads until the transport reports that it would block.
// crypto/tls keeps a net.Error whose Temporary() is true from becoming
// sticky (conn.go, readRecordOrCCS), which is what lets a Read on the loop
// return instead of blocking. A record crypto/tls refuses closes the
// connection after the alert crypto/tls wrote for it (reactor.FlushFirst),
// as on the record layer. Such a connection keeps as little as
// crypto/tls allows: the record input buffers are lent per feed (trim.go),
// the handshake's state goes with its goroutine, a server drops its
// resumption secret once the session ticket is sent, and a TLS 1.3 AES-GCM
// connection that had no records for a second or two lets its two record
// ciphers go (ciphers.go: about 1.7 KB, rebuilt from the traffic key on the
// next record, which costs about a microsecond).
//
// One sweeper goroutine per Config finds quiet connections for both paths;
// there is no timer per connection.
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
