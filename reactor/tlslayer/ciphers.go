package tlslayer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"hash"
	"reflect"
	"sync/atomic"
	"unsafe"
)

// A TLS 1.3 AES-GCM connection's largest part is its two record ciphers:
// crypto/tls keeps, per direction, the expanded AES key schedules and the
// GHASH table (896 bytes each, with AES-NI), which is more than half of
// what an idle connection holds. When a connection has been quiet for a
// sweep (see sweeper), dropCiphers swaps the cipher inside crypto/tls's
// per-direction nonce wrapper for a lazyAEAD that keeps only the key and
// builds an ordinary crypto/cipher GCM again on the next record. The
// traffic key is derived from the halfConn's traffic secret as RFC 8446
// 7.3 says (HKDF-Expand-Label(secret, "key", "", length)), and a probe
// sealed with the derived key must open with crypto/tls's own cipher
// before the swap, so a key that does not match is never used. TLS 1.2,
// ChaCha20-Poly1305 (whose state is its 32-byte key) and FIPS 140 mode are
// left alone. The fields are found by name and type through reflect; if a
// Go release changes them, trimming turns itself off.
var cipherFields = func() (f struct {
	ok                          bool
	in, out, cipher, secret, cs uintptr
}) {
	t := reflect.TypeFor[tls.Conn]()
	in, ok1 := t.FieldByName("in")
	out, ok2 := t.FieldByName("out")
	cs, ok3 := t.FieldByName("cipherSuite")
	if !ok1 || !ok2 || !ok3 || in.Type != out.Type || in.Type.Kind() != reflect.Struct ||
		cs.Type != reflect.TypeFor[uint16]() {
		return f
	}
	c, ok4 := in.Type.FieldByName("cipher")
	s, ok5 := in.Type.FieldByName("trafficSecret")
	f.ok = ok4 && ok5 && c.Type == reflect.TypeFor[any]() && s.Type == reflect.TypeFor[[]byte]() &&
		!fips140.Enabled()
	f.in, f.out, f.cipher, f.secret, f.cs = in.Offset, out.Offset, c.Offset, s.Offset, cs.Offset
	return f
}()

// wrapInfo is the type of crypto/tls's TLS 1.3 nonce wrapper
// (*xorNonceAEAD) and the offset of the cipher.AEAD it wraps.
type wrapInfo struct {
	t   reflect.Type
	off uintptr
}

var wrapType atomic.Pointer[wrapInfo]

// swaps counts crypto/tls ciphers replaced by lazyAEADs (for tests).
var swaps atomic.Int64

// innerAEAD returns where the TLS 1.3 record cipher c (a halfConn's
// cipher) keeps the AEAD it wraps, or nil if c is not that wrapper.
func innerAEAD(c any) *cipher.AEAD {
	t := reflect.TypeOf(c)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil
	}
	w := wrapType.Load()
	if w == nil || w.t != t {
		e := t.Elem()
		if e.PkgPath() != "crypto/tls" || e.Name() != "xorNonceAEAD" {
			return nil
		}
		f, ok := e.FieldByName("aead")
		if !ok || f.Type != reflect.TypeFor[cipher.AEAD]() {
			return nil
		}
		w = &wrapInfo{t: t, off: f.Offset}
		wrapType.Store(w)
	}
	return (*cipher.AEAD)(unsafe.Add(reflect.ValueOf(c).UnsafePointer(), w.off))
}

// dropCiphers lets an idle TLS 1.3 AES-GCM connection's record ciphers go:
// the first time (and after a KeyUpdate) it swaps in lazyAEADs, afterwards
// it empties them. Loop only, between records.
func dropCiphers(tc *tls.Conn) {
	if !cipherFields.ok {
		return
	}
	base := unsafe.Pointer(tc)
	suite := *(*uint16)(unsafe.Add(base, cipherFields.cs))
	for _, off := range [2]uintptr{cipherFields.in, cipherFields.out} {
		hc := unsafe.Add(base, off)
		slot := innerAEAD(*(*any)(unsafe.Add(hc, cipherFields.cipher)))
		if slot == nil || *slot == nil {
			continue
		}
		if lz, ok := (*slot).(*lazyAEAD); ok {
			lz.aead = nil
			continue
		}
		if lz := newLazyAEAD(suite, *(*[]byte)(unsafe.Add(hc, cipherFields.secret)), *slot); lz != nil {
			*slot = lz
			swaps.Add(1)
		}
	}
}

// lazyAEAD is AES-GCM that keeps only its key while the connection is idle.
type lazyAEAD struct {
	key  [32]byte
	n    uint8       // key length: 16 or 32
	aead cipher.AEAD // nil until the next record
}

// trafficKey derives a TLS 1.3 traffic key from a traffic secret
// (RFC 8446 7.1 and 7.3).
func trafficKey(h func() hash.Hash, secret []byte, n int) ([]byte, error) {
	const label = "tls13 key"
	info := make([]byte, 0, 4+len(label))
	info = append(info, 0, byte(n), byte(len(label)))
	info = append(info, label...)
	info = append(info, 0) // empty context
	return hkdf.Expand(h, secret, string(info), n)
}

// newLazyAEAD returns a lazyAEAD for suite's key derived from secret, or
// nil when the suite is not AES-GCM or the derived key does not open a
// probe sealed for orig.
func newLazyAEAD(suite uint16, secret []byte, orig cipher.AEAD) *lazyAEAD {
	var h func() hash.Hash
	var n int
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		h, n = sha256.New, 16
	case tls.TLS_AES_256_GCM_SHA384:
		h, n = sha512.New384, 32
	default:
		return nil
	}
	key, err := trafficKey(h, secret, n)
	if err != nil {
		return nil
	}
	lz := &lazyAEAD{n: uint8(n)}
	copy(lz.key[:], key)
	g := lz.build()
	if g == nil {
		return nil
	}
	// Open does not advance crypto/tls's record state; only Seal checks nonces.
	var nonce [12]byte
	ad := []byte("tlslayer key probe")
	if _, err := orig.Open(nil, nonce[:], g.Seal(nil, nonce[:], nil, ad), ad); err != nil {
		return nil
	}
	return lz
}

func (a *lazyAEAD) build() cipher.AEAD {
	b, err := aes.NewCipher(a.key[:a.n])
	if err != nil {
		return nil
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil
	}
	return g
}

func (a *lazyAEAD) get() cipher.AEAD {
	if a.aead == nil {
		a.aead = a.build() // cannot fail: the key worked in newLazyAEAD
	}
	return a.aead
}

// NonceSize is GCM's standard nonce size.
func (a *lazyAEAD) NonceSize() int { return 12 }

// Overhead is GCM's tag size.
func (a *lazyAEAD) Overhead() int { return 16 }

// Seal encrypts and authenticates (cipher.AEAD).
func (a *lazyAEAD) Seal(dst, nonce, plaintext, ad []byte) []byte {
	return a.get().Seal(dst, nonce, plaintext, ad)
}

// Open decrypts and authenticates (cipher.AEAD).
func (a *lazyAEAD) Open(dst, nonce, ciphertext, ad []byte) ([]byte, error) {
	return a.get().Open(dst, nonce, ciphertext, ad)
}
