package tlslayer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/chatd/chatd/reactor"
	"golang.org/x/crypto/chacha20poly1305"
)

// The TLS 1.3 record layer of an established server connection (RFC 8446
// 5.1-5.5 and 7.3). Once crypto/tls has finished a TLS 1.3 handshake, the
// layer takes both directions' traffic secrets and sequence numbers out of
// the tls.Conn (reflect, as in ciphers.go), checks them against crypto/tls's
// own ciphers, and drops the tls.Conn: records are then opened in place in
// the input the reactor hands to Decode, and the handler's writes are
// sealed in place in room the reactor reserves at the end of the
// connection's outbound queue (LayerIO.Reserve), so a record is written
// to the socket from where it was sealed, without a copy. An
// idle connection keeps two traffic secrets and two sequence numbers; the
// ciphers are built from the secrets on the next record after a sweep let
// them go. Anything the check does not vouch for keeps crypto/tls.
//
// Ciphers are built when a record needs them and kept while records flow:
// the sweep (sweep.go) lets them go once a connection had no records for a
// sweep. The first ones built after a quiet spell (or after the handshake)
// go at the end of that pass already, since a connection that was quiet is
// likely to be quiet again (a heartbeat, one request): it would otherwise
// hold about 1.6 KB of cipher state for one or two seconds after every
// record. A direction that needs its cipher again before the next sweep
// keeps it until the sweep finds it quiet, so a busy connection builds its
// ciphers once per busy spell and a quiet one once per record, as it did.

// Record and message types, alerts (RFC 8446 5.1, 4, 6).
const (
	recordAlert     = 21
	recordHandshake = 22
	recordAppData   = 23

	msgKeyUpdate = 24

	alertCloseNotify        = 0
	alertUnexpectedMessage  = 10
	alertBadRecordMAC       = 20
	alertRecordOverflow     = 22
	alertIllegalParameter   = 47
	alertDecodeError        = 50
	alertLevelWarning       = 1
	alertLevelFatal         = 2
	maxPlain                = 16384          // plaintext per record
	maxCiphertext           = maxPlain + 256 // TLS 1.3 limit on a record's body
	recordTrailer           = 1 + 16         // sealing adds the inner type and the AEAD tag (16 bytes in every suite)
	recordHeaderLen         = 5
	keyUpdateNotRequested   = 0
	keyUpdateRequested      = 1
	keyUpdateLen            = 5 // type, 24-bit length, request_update
	maxHandshakeMessagePeek = 4 // type and length decide a post-handshake message's fate
)

// record13 is the record state of one TLS 1.3 connection after the handshake.
// An idle connection keeps it and its Layer, so it is laid out to fill a
// 192-byte size class: what few connections need is behind rare.
type record13 struct {
	suite   uint16
	hashLen uint8 // traffic secret length: 32 (SHA-256) or 48 (SHA-384)
	hsLen   uint8
	hs      [keyUpdateLen]byte // the start of a post-handshake message split across records
	fresh   uint8              // warm and once bits per direction (built since the last sweep, goes after this pass)
	// The handshake's outcome for ConnectionState (state.go), unless rare
	// holds the whole tls.ConnectionState.
	curve     tls.CurveID
	resumed   bool
	hrr       bool
	alpn, sni string
	ekm       ekmFunc
	in, out   dir13
	rare      atomic.Pointer[rare13] // nil unless needed; set on the loop, read by ConnectionState
}

// rare13 is what a record13 keeps for few connections.
type rare13 struct {
	full *tls.ConnectionState // the handshake's outcome when the compact form cannot hold it
	part []byte               // a partial record left from the switch (Layer.feed13); loop only
}

// part returns the partial record left from the switch.
func (r *record13) part() []byte {
	if rr := r.rare.Load(); rr != nil {
		return rr.part
	}
	return nil
}

// setPart keeps b (nil: nothing) as the partial record left from the switch.
func (r *record13) setPart(b []byte) {
	rr := r.rare.Load()
	switch {
	case rr == nil && b == nil:
	case rr == nil:
		r.rare.Store(&rare13{part: b})
	case b == nil && rr.full == nil:
		r.rare.Store(nil) // nothing rare left
	default:
		rr.part = b
	}
}

// record13.fresh bits; a direction's bits are shifted by dirShift (0 in, 1 out).
const (
	warmIn = 1 << iota // the in cipher was built since the last sweep found the connection quiet
	_                  // warmOut
	onceIn             // the in cipher goes at the end of this pass
	_                  // onceOut
)

// dirShift returns d's shift in record13.fresh.
func (r *record13) dirShift(d *dir13) uint8 {
	if d == &r.out {
		return 1
	}
	return 0
}

// dir13 is one direction: its traffic secret, sequence number and, while
// records flow, the cipher derived from the secret.
type dir13 struct {
	secret [48]byte
	seq    uint64
	keys   *keys13 // nil while idle (dropped by the sweep)
}

// keys13 is a direction's cipher and IV, and scratch for the nonce (which,
// passed to the cipher, would escape from the stack).
type keys13 struct {
	aead  cipher.AEAD
	iv    [12]byte
	nonce [12]byte
}

// suiteParams returns a TLS 1.3 suite's hash length and key length, or
// ok false for a suite this record layer does not run.
func suiteParams(suite uint16) (hashLen, keyLen int, ok bool) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		return 32, 16, true
	case tls.TLS_AES_256_GCM_SHA384:
		return 48, 32, true
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return 32, 32, true
	}
	return 0, 0, false
}

// expandLabel writes HKDF-Expand-Label(secret, label, "", len(out)) (RFC
// 8446 7.1) to out, with SHA-384 if len(secret) is 48 and SHA-256
// otherwise. out is at most one hash long, so HKDF-Expand is its first
// block, T(1) = HMAC(secret, info || 0x01) (RFC 5869 2.3), and the HMAC
// (RFC 2104; the secret is shorter than a hash block) is computed on
// stack buffers with the one-shot hash functions: building a direction's
// keys after an idle spell allocates nothing but its cipher. The keys
// derived at the switch open crypto/tls's probes (takeRecord13), which
// checks this on every connection; FIPS 140 mode never gets here.
func expandLabel(secret []byte, label string, out []byte) {
	const (
		maxBlock = 128                       // SHA-384's block
		maxInfo  = 2 + 1 + 6 + 255 + 1       // length, label length, "tls13 " label, empty context
		maxMsg   = maxBlock + maxInfo + 1    // ipad key, info, counter
		maxOuter = maxBlock + sha512.Size384 // opad key, inner hash
		ipad     = 0x36
		opad     = 0x5c
	)
	block := sha256.BlockSize
	if len(secret) == sha512.Size384 {
		block = sha512.BlockSize
	}
	var msg [maxMsg]byte
	var outer [maxOuter]byte
	copy(msg[:], secret)
	copy(outer[:], secret)
	for i := range block {
		msg[i] ^= ipad
		outer[i] ^= opad
	}
	m := append(msg[:block], byte(len(out)>>8), byte(len(out)), byte(6+len(label)))
	m = append(m, "tls13 "...)
	m = append(m, label...)
	m = append(m, 0, 1) // empty context, then HKDF's block counter
	if block == sha512.BlockSize {
		in := sha512.Sum384(m)
		sum := sha512.Sum384(append(outer[:block], in[:]...))
		copy(out, sum[:])
		return
	}
	in := sha256.Sum256(m)
	sum := sha256.Sum256(append(outer[:block], in[:]...))
	copy(out, sum[:])
}

// newAEAD builds suite's record cipher for key.
func newAEAD(suite uint16, key []byte) (cipher.AEAD, error) {
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// keys derives d's key and IV from its secret (RFC 8446 7.3) and builds the cipher.
func (r *record13) keys(d *dir13) error {
	_, keyLen, _ := suiteParams(r.suite)
	secret := d.secret[:r.hashLen]
	var key [32]byte
	expandLabel(secret, "key", key[:keyLen])
	a, err := newAEAD(r.suite, key[:keyLen])
	clear(key[:])
	if err != nil {
		return err
	}
	k := &keys13{aead: a}
	expandLabel(secret, "iv", k.iv[:])
	d.keys = k
	return nil
}

// cipher returns d's cipher, building it after an idle spell. The secret
// was checked when the record layer took over, so building cannot fail.
// The first build since the connection was last found quiet is for this
// pass only (release).
func (r *record13) cipher(d *dir13) cipher.AEAD {
	if d.keys == nil {
		if err := r.keys(d); err != nil {
			panic("tlslayer: TLS 1.3 keys: " + err.Error())
		}
		sh := r.dirShift(d)
		if r.fresh&(warmIn<<sh) == 0 {
			r.fresh |= (warmIn | onceIn) << sh
		}
	}
	return d.keys.aead
}

// release ends a pass in d's direction: a cipher built for this pass only goes.
func (r *record13) release(d *dir13) {
	if sh := r.dirShift(d); r.fresh&(onceIn<<sh) != 0 {
		r.fresh &^= onceIn << sh
		d.keys = nil
	}
}

// nonce returns the next record's nonce: the IV XOR the sequence number
// (RFC 8446 5.3). After cipher, which builds the keys.
func (d *dir13) nonce() []byte {
	k := d.keys
	k.nonce = k.iv
	binary.BigEndian.PutUint64(k.nonce[4:], binary.BigEndian.Uint64(k.iv[4:])^d.seq)
	return k.nonce[:]
}

// update moves d to the next traffic secret (RFC 8446 7.2, KeyUpdate).
func (r *record13) update(d *dir13) {
	var next [48]byte
	expandLabel(d.secret[:r.hashLen], "traffic upd", next[:r.hashLen])
	d.secret = next
	d.seq, d.keys = 0, nil
}

// idle lets both ciphers go (the sweep found the connection quiet).
func (r *record13) idle() { r.in.keys, r.out.keys, r.fresh = nil, nil, 0 }

// recFields locates what the switch takes out of a tls.Conn: its halfConns'
// sequence numbers and first errors and its unsent output, next to
// ciphers.go's cipher and secret and trim.go's input buffers. ok is false
// when a Go release changed them.
var recFields = func() (f struct {
	ok                bool
	seq, err, sendBuf uintptr
}) {
	t := reflect.TypeFor[tls.Conn]()
	in, ok := t.FieldByName("in")
	if !ok || in.Type.Kind() != reflect.Struct {
		return f
	}
	seq, ok1 := in.Type.FieldByName("seq")
	e, ok2 := in.Type.FieldByName("err")
	sb, ok3 := t.FieldByName("sendBuf")
	f.ok = ok1 && ok2 && ok3 && seq.Type == reflect.TypeFor[[8]byte]() && e.Type == reflect.TypeFor[error]() &&
		sb.Type == reflect.TypeFor[[]byte]() && cipherFields.ok && trimFields.ok
	f.seq, f.err, f.sendBuf = seq.Offset, e.Offset, sb.Offset
	return f
}()

// takeovers counts connections the record layer took over (for tests).
var takeovers atomic.Int64

// takeRecord13 takes the record state of tc, a server whose TLS 1.3
// handshake just finished, with the records crypto/tls read but did not
// open yet. It returns nil when the suite, the layout or the check of
// the derived ciphers against crypto/tls's own says to keep crypto/tls.
// keepEKM keeps crypto/tls's exporter (Options.KeepExporter). Loop only,
// after the handshake goroutine is done.
func takeRecord13(tc *tls.Conn, st *tls.ConnectionState, keepEKM bool) (*record13, []byte) {
	if !recFields.ok || st.Version != tls.VersionTLS13 {
		return nil, nil
	}
	hashLen, _, ok := suiteParams(st.CipherSuite)
	if !ok {
		return nil, nil
	}
	base := unsafe.Pointer(tc)
	if (*bytes.Reader)(unsafe.Add(base, trimFields.input)).Len() > 0 ||
		(*bytes.Buffer)(unsafe.Add(base, trimFields.hand)).Len() > 0 ||
		len(*(*[]byte)(unsafe.Add(base, recFields.sendBuf))) > 0 ||
		*(*uint16)(unsafe.Add(base, cipherFields.cs)) != st.CipherSuite {
		return nil, nil
	}
	r := &record13{suite: st.CipherSuite, hashLen: uint8(hashLen)}
	for _, h := range [2]struct {
		off uintptr
		d   *dir13
	}{{cipherFields.in, &r.in}, {cipherFields.out, &r.out}} {
		hc := unsafe.Add(base, h.off)
		secret := *(*[]byte)(unsafe.Add(hc, cipherFields.secret))
		if *(*error)(unsafe.Add(hc, recFields.err)) != nil || len(secret) != hashLen {
			return nil, nil
		}
		copy(h.d.secret[:], secret)
		h.d.seq = binary.BigEndian.Uint64((*[8]byte)(unsafe.Add(hc, recFields.seq))[:])
		orig, ok := (*(*any)(unsafe.Add(hc, cipherFields.cipher))).(cipher.AEAD)
		if !ok || orig.NonceSize() != 8 || r.keys(h.d) != nil {
			return nil, nil
		}
		// crypto/tls's TLS 1.3 cipher takes the 8-byte sequence number and
		// XORs its IV in; Open changes no state. A probe sealed with the
		// derived key and IV at sequence 0 must open with it.
		var seq0 [8]byte
		ad := []byte("tlslayer record probe")
		if _, err := orig.Open(nil, seq0[:], h.d.keys.aead.Seal(nil, h.d.keys.iv[:], ad, ad), ad); err != nil {
			return nil, nil
		}
		h.d.keys = nil // built again for the first record (cipher)
	}
	r.keepState(st, keepEKM)
	raw := (*bytes.Buffer)(unsafe.Add(base, trimFields.rawInput)).Bytes()
	return r, bytes.Clone(raw)
}

// alertError is a fatal alert this side sent (local) or received (remote).
type alertError struct {
	remote bool
	alert  tls.AlertError
}

func (e *alertError) Error() string {
	if e.remote {
		return "tlslayer: remote error: " + e.alert.Error()
	}
	return "tlslayer: local error: " + e.alert.Error()
}

// Unwrap returns the alert (errors.As to tls.AlertError).
func (e *alertError) Unwrap() error { return e.alert }

// errRecordSeq: 2^64 records in one direction (RFC 8446 5.3 forbids wrapping).
var errRecordSeq = errors.New("tlslayer: record sequence number exhausted")

// fail sends a fatal alert and returns the error to close the connection
// with, wrapped so that the reactor writes the alert first (one attempt:
// a client that does not read does not get it, nor holds the connection).
func (l *Layer) fail(desc uint8) error {
	l.control(recordAlert, []byte{alertLevelFatal, desc})
	l.flush13()
	return reactor.FlushFirst(&alertError{alert: tls.AlertError(desc)})
}

// decode13 opens the complete records at the start of in, in place, passes
// their application data up in one piece per run of data records and
// handles alerts and KeyUpdate; a partial record is left unconsumed.
func (l *Layer) decode13(in []byte) (int, error) {
	n, err := l.open13(in)
	l.rec.release(&l.rec.in)
	return n, err
}

// open13 is decode13 but for the end of the pass.
func (l *Layer) open13(in []byte) (int, error) {
	r := l.rec
	off, ps, pe := 0, 0, 0 // in[ps:pe]: plaintext gathered, not yet passed up
	up := func() {
		if pe > ps {
			l.tr.io.Up(in[ps:pe])
		}
		ps, pe = 0, 0
	}
	defer up()
	for len(in)-off >= recordHeaderLen {
		n := int(binary.BigEndian.Uint16(in[off+3:]))
		if n > maxCiphertext {
			return off, l.fail(alertRecordOverflow)
		}
		if len(in)-off < recordHeaderLen+n {
			break
		}
		rec := in[off : off+recordHeaderLen+n]
		off += len(rec)
		if rec[0] != recordAppData { // after the handshake every record is protected
			return off, l.fail(alertUnexpectedMessage)
		}
		if r.in.seq == ^uint64(0) {
			return off, errRecordSeq
		}
		a := r.cipher(&r.in)
		body := rec[recordHeaderLen:]
		pt, err := a.Open(body[:0], r.in.nonce(), body, rec[:recordHeaderLen])
		if err != nil {
			return off, l.fail(alertBadRecordMAC)
		}
		r.in.seq++
		// TLSInnerPlaintext: content, then the real type, then zeros.
		i := len(pt) - 1
		for i >= 0 && pt[i] == 0 {
			i--
		}
		if i < 0 {
			return off, l.fail(alertUnexpectedMessage)
		}
		typ, pt := pt[i], pt[:i]
		if len(pt) > maxPlain {
			return off, l.fail(alertRecordOverflow)
		}
		if typ != recordHandshake && r.hsLen > 0 { // a message split around other records
			return off, l.fail(alertUnexpectedMessage)
		}
		switch typ {
		case recordAppData:
			start := off - len(rec) + recordHeaderLen
			if pe == ps {
				ps, pe = start, start+len(pt)
			} else {
				pe += copy(in[pe:], pt)
			}
		case recordAlert:
			up()
			if len(pt) != 2 {
				return off, l.fail(alertDecodeError)
			}
			if pt[1] == alertCloseNotify {
				return off, io.EOF
			}
			return off, &alertError{remote: true, alert: tls.AlertError(pt[1])}
		case recordHandshake:
			up()
			if err := l.handshakeMessages(pt); err != nil {
				return off, err
			}
		default:
			return off, l.fail(alertUnexpectedMessage)
		}
	}
	return off, nil
}

// handshakeMessages handles post-handshake messages: a server accepts only
// KeyUpdate (RFC 8446 4.6.3), which must end its record.
func (l *Layer) handshakeMessages(pt []byte) error {
	r := l.rec
	if len(pt) == 0 {
		return l.fail(alertUnexpectedMessage) // zero-length handshake records are forbidden (5.1)
	}
	n := copy(r.hs[r.hsLen:], pt)
	r.hsLen += uint8(n)
	more := len(pt) > n
	if r.hs[0] != msgKeyUpdate {
		return l.fail(alertUnexpectedMessage)
	}
	if r.hsLen >= maxHandshakeMessagePeek && (r.hs[1] != 0 || r.hs[2] != 0 || r.hs[3] != 1) {
		return l.fail(alertDecodeError)
	}
	if r.hsLen < keyUpdateLen {
		return nil
	}
	if more { // more after the key change, in the same record
		return l.fail(alertUnexpectedMessage)
	}
	req := r.hs[4]
	r.hsLen = 0
	if req != keyUpdateNotRequested && req != keyUpdateRequested {
		return l.fail(alertIllegalParameter)
	}
	r.update(&r.in)
	if req == keyUpdateRequested {
		// Ours goes under the old key, everything after under the new one.
		l.control(recordHandshake, []byte{msgKeyUpdate, 0, 0, 1, keyUpdateNotRequested})
		r.update(&r.out)
		l.flush13()
	}
	return nil
}

// put13 appends p to the records being sealed: it fills the open record
// up to maxPlain and seals each full one. A record ends early where the
// room Reserve gave would cut p, so p goes on in a record of its own.
func (l *Layer) put13(p []byte) {
	for len(p) > 0 {
		if l.at >= 0 && cap(l.gather)-len(l.gather)-recordTrailer < min(len(p), maxPlain-(len(l.gather)-l.at-recordHeaderLen)) {
			l.seal(recordAppData) // the room would cut p: p starts the next record, in a new room
		}
		if l.at < 0 {
			l.startRecord(len(p))
		}
		free := min(maxPlain-(len(l.gather)-l.at-recordHeaderLen), cap(l.gather)-len(l.gather)-recordTrailer)
		k := min(free, len(p))
		l.gather = append(l.gather, p[:k]...)
		p = p[k:]
		if k == free {
			l.seal(recordAppData)
		}
	}
}

// startRecord opens a record with room for want bytes of content (up to a
// full record), in the room the reactor reserved at the end of the
// outbound queue: records are sealed where the socket will take them
// from. When the room is too small, the records sealed in it are
// committed and a new room is reserved.
func (l *Layer) startRecord(want int) {
	need := recordHeaderLen + min(want, maxPlain) + recordTrailer
	if cap(l.gather)-len(l.gather) < need {
		l.tr.io.Commit(l.gather)
		l.gather = l.tr.io.Reserve(need)
	}
	l.at = len(l.gather)
	l.gather = append(l.gather, recordAppData, 3, 3, 0, 0)
}

// seal closes the open record with inner content type typ and encrypts it in place.
func (l *Layer) seal(typ byte) {
	r := l.rec
	d := &r.out
	a := r.cipher(d)
	l.gather = append(l.gather, typ)
	body := l.gather[l.at+recordHeaderLen:]
	hdr := l.gather[l.at : l.at+recordHeaderLen]
	binary.BigEndian.PutUint16(hdr[3:], uint16(len(body)+a.Overhead()))
	out := a.Seal(body[:0], d.nonce(), body, hdr)
	l.gather = l.gather[:l.at+recordHeaderLen+len(out)]
	d.seq++ // 2^64 records at 16 KiB would take longer than the universe has had
	l.at = -1
}

// control seals msg as a record of its own after the data already written.
func (l *Layer) control(typ byte, msg []byte) {
	if l.at >= 0 {
		l.seal(recordAppData)
	}
	l.startRecord(len(msg))
	l.gather = append(l.gather, msg...)
	l.seal(typ)
}

// flush13 seals the open record and commits every sealed one.
func (l *Layer) flush13() {
	if l.at >= 0 {
		l.seal(recordAppData)
	}
	if l.gather == nil {
		return
	}
	l.tr.io.Commit(l.gather)
	l.gather = nil
	l.rec.release(&l.rec.out)
}

// feed13 is Decode for the record layer: input left over from the switch
// (part) goes first; once a record boundary falls in the new input, the
// rest stays with the reactor.
func (l *Layer) feed13(in []byte) (int, error) {
	if len(in) > 0 {
		l.arm()
	}
	r := l.rec
	part := r.part()
	if part == nil {
		return l.decode13(in)
	}
	old := len(part)
	buf := append(part, in...)
	r.setPart(nil)
	n, err := l.decode13(buf)
	if err != nil || n >= old {
		return n - old, err
	}
	r.setPart(bytes.Clone(buf[n:]))
	return len(in), nil
}

// takeOver switches an established TLS 1.3 server connection to the
// record layer if takeRecord13 vouches for it and returns the records
// crypto/tls had read but not opened.
func (l *Layer) takeOver(st *tls.ConnectionState) ([]byte, bool) {
	if l.cfg.client {
		return nil, false // a client would have to take session tickets too
	}
	r, raw := takeRecord13(l.tc, st, l.cfg.opts.KeepExporter)
	if r == nil {
		return nil, false
	}
	l.rec, l.tc, l.at = r, nil, -1
	takeovers.Add(1)
	return raw, true
}
