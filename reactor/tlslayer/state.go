package tlslayer

import (
	"crypto/tls"
	"reflect"
	"unsafe"
)

// A connection the record layer (record.go) took over keeps what
// ConnectionState reports. A whole tls.ConnectionState is 192 bytes, most
// of it slices a TLS 1.3 server without client certificates leaves empty
// (peer certificates and chains, SCTs, OCSP, tls-unique), so such a
// connection keeps in its record13 instead the few scalars, the ALPN
// protocol and SNI name, and, if Options.KeepExporter asks for it,
// crypto/tls's exporter (ekm, the closure behind ExportKeyingMaterial,
// unexported and so found by name and type through reflect; it holds about
// 100 bytes: the exporter secret, a copy of the early secret's hash and
// their closures). A connection with any other field set keeps the whole struct
// (record13.rare), and so does every connection when a Go release adds,
// renames or retypes a field (stateFields.ok false).

// ekmFunc is the type of tls.ConnectionState's unexported ekm field.
type ekmFunc = func(label string, context []byte, length int) ([]byte, error)

// stateFields locates tls.ConnectionState's unexported fields; ok is false
// unless its fields are exactly the ones keepState knows.
var stateFields = func() (f struct {
	ok          bool
	ekm, sigAlg uintptr
}) {
	known := map[string]reflect.Type{
		"Version":                           reflect.TypeFor[uint16](),
		"HandshakeComplete":                 reflect.TypeFor[bool](),
		"DidResume":                         reflect.TypeFor[bool](),
		"CipherSuite":                       reflect.TypeFor[uint16](),
		"CurveID":                           reflect.TypeFor[tls.CurveID](),
		"NegotiatedProtocol":                reflect.TypeFor[string](),
		"NegotiatedProtocolIsMutual":        reflect.TypeFor[bool](),
		"ServerName":                        reflect.TypeFor[string](),
		"PeerCertificates":                  nil, // kept only in a whole struct: any type
		"VerifiedChains":                    nil,
		"SignedCertificateTimestamps":       nil,
		"OCSPResponse":                      nil,
		"TLSUnique":                         nil,
		"ECHAccepted":                       reflect.TypeFor[bool](),
		"HelloRetryRequest":                 reflect.TypeFor[bool](),
		"ekm":                               reflect.TypeFor[ekmFunc](),
		"testingOnlyPeerSignatureAlgorithm": reflect.TypeFor[tls.SignatureScheme](),
	}
	t := reflect.TypeFor[tls.ConnectionState]()
	if t.NumField() != len(known) {
		return f
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		want, ok := known[sf.Name]
		if !ok || want != nil && sf.Type != want {
			return f
		}
		switch sf.Name {
		case "ekm":
			f.ekm = sf.Offset
		case "testingOnlyPeerSignatureAlgorithm":
			f.sigAlg = sf.Offset
		}
	}
	f.ok = true
	return f
}()

// noExporter stands for crypto/tls's exporter when it is not kept; a
// function, not a closure, so it costs no allocation.
func noExporter(string, []byte, int) ([]byte, error) { return nil, ErrNoExporter }

// keepState keeps st in r: in its compact form if that reproduces it
// exactly, whole otherwise; its exporter only if keepEKM. Before r is
// shared (takeRecord13).
func (r *record13) keepState(st *tls.ConnectionState, keepEKM bool) {
	//lint:ignore SA1019 crypto/tls still sets it (always true); the compact form must reproduce it
	mutual := st.NegotiatedProtocolIsMutual
	if !stateFields.ok || st.Version != tls.VersionTLS13 || st.CipherSuite != r.suite ||
		!st.HandshakeComplete || !mutual || st.ECHAccepted ||
		st.PeerCertificates != nil || st.VerifiedChains != nil || st.SignedCertificateTimestamps != nil ||
		st.OCSPResponse != nil || st.TLSUnique != nil {
		r.keepFull(st, keepEKM)
		return
	}
	base := unsafe.Pointer(st)
	if *(*tls.SignatureScheme)(unsafe.Add(base, stateFields.sigAlg)) != 0 {
		r.keepFull(st, keepEKM)
		return
	}
	r.alpn, r.sni = st.NegotiatedProtocol, st.ServerName
	r.ekm = noExporter
	if keepEKM {
		r.ekm = *(*ekmFunc)(unsafe.Add(base, stateFields.ekm))
	}
	r.curve, r.resumed, r.hrr = st.CurveID, st.DidResume, st.HelloRetryRequest
}

// keepFull keeps a copy of the whole st, without its exporter unless
// keepEKM (and the layout is known).
func (r *record13) keepFull(st *tls.ConnectionState, keepEKM bool) {
	full := *st
	if !keepEKM && stateFields.ok {
		*(*ekmFunc)(unsafe.Add(unsafe.Pointer(&full), stateFields.ekm)) = noExporter
	}
	r.rare.Store(&rare13{full: &full})
}

// state rebuilds the tls.ConnectionState kept by keepState. Safe from any
// goroutine: what it reads does not change after keepState.
func (r *record13) state() tls.ConnectionState {
	if rr := r.rare.Load(); rr != nil && rr.full != nil {
		return *rr.full
	}
	st := tls.ConnectionState{
		Version:            tls.VersionTLS13,
		HandshakeComplete:  true,
		DidResume:          r.resumed,
		CipherSuite:        r.suite,
		CurveID:            r.curve,
		NegotiatedProtocol: r.alpn,
		ServerName:         r.sni,
		HelloRetryRequest:  r.hrr,
	}
	//lint:ignore SA1019 crypto/tls still sets it (always true); callers get the struct crypto/tls gave
	st.NegotiatedProtocolIsMutual = true
	*(*ekmFunc)(unsafe.Add(unsafe.Pointer(&st), stateFields.ekm)) = r.ekm
	return st
}
