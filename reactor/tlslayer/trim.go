package tlslayer

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"sync"
	"unsafe"
)

// crypto/tls keeps a connection's record input in bytes.Buffers that keep
// their capacity after use (rawInput grows to a whole record, hand to the
// largest handshake message), so an idle connection would pin a few KiB.
// The loop instead lends rawInput a pooled buffer for the duration of one
// feed and takes it back when every record was read, and drops hand's
// buffer once it is empty. The fields are found by name and type through
// reflect when the package loads; if a Go release renames or retypes them,
// trimming turns itself off and connections just keep their buffers.
var trimFields = func() (f struct {
	ok                    bool
	rawInput, input, hand uintptr
}) {
	t := reflect.TypeFor[tls.Conn]()
	raw, ok1 := t.FieldByName("rawInput")
	in, ok2 := t.FieldByName("input")
	hand, ok3 := t.FieldByName("hand")
	buf, rd := reflect.TypeFor[bytes.Buffer](), reflect.TypeFor[bytes.Reader]()
	f.ok = ok1 && ok2 && ok3 && raw.Type == buf && in.Type == rd && hand.Type == buf
	f.rawInput, f.input, f.hand = raw.Offset, in.Offset, hand.Offset
	return f
}()

// rawBufSize is the buffer lent to rawInput: room for the largest record
// (16 KiB plus expansion and header) and the 512 bytes bytes.Buffer asks for.
const rawBufSize = 32 << 10

var rawBufs = sync.Pool{New: func() any { b := make([]byte, 0, rawBufSize); return &b }}

// lendInput gives tc's rawInput a pooled buffer, keeping any partial
// record it holds. Loop only, before feeding records.
func lendInput(tc *tls.Conn) {
	if !trimFields.ok {
		return
	}
	raw := (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), trimFields.rawInput))
	if raw.Available()+raw.Len() >= rawBufSize {
		return // already lent (or grown by crypto/tls)
	}
	b := (*rawBufs.Get().(*[]byte))[:0]
	b = append(b, raw.Bytes()...)
	*raw = *bytes.NewBuffer(b)
}

// reclaimInput takes the lent buffer back once rawInput is used up; a
// partial record left in it moves to an exact-size copy. Loop only, after
// the records were read.
func reclaimInput(tc *tls.Conn) {
	if !trimFields.ok {
		return
	}
	base := unsafe.Pointer(tc)
	if in := (*bytes.Reader)(unsafe.Add(base, trimFields.input)); in.Len() > 0 {
		return // plaintext not read yet: rawInput owns its memory
	}
	raw := (*bytes.Buffer)(unsafe.Add(base, trimFields.rawInput))
	rest := raw.Bytes()
	var keep []byte
	if len(rest) > 0 {
		keep = bytes.Clone(rest)
	}
	raw.Reset()
	if b := raw.AvailableBuffer(); cap(b) == rawBufSize {
		rawBufs.Put(&b)
	}
	*raw = bytes.Buffer{}
	if keep != nil {
		*raw = *bytes.NewBuffer(keep)
	}
	*(*bytes.Reader)(unsafe.Add(base, trimFields.input)) = bytes.Reader{}
	if hand := (*bytes.Buffer)(unsafe.Add(base, trimFields.hand)); hand.Len() == 0 {
		*hand = bytes.Buffer{}
	}
}

// resumptionSecretOff locates tls.Conn's resumptionSecret, which a TCP
// server only uses to seal the session ticket it sends at the end of the
// handshake (a client keeps it for the tickets that arrive later); 0 when
// a Go release renamed or retyped it.
var resumptionSecretOff = func() uintptr {
	f, ok := reflect.TypeFor[tls.Conn]().FieldByName("resumptionSecret")
	if !ok || f.Type != reflect.TypeFor[[]byte]() {
		return 0
	}
	return f.Offset
}()

// dropResumptionSecret lets a server connection's resumption secret go once
// its handshake, and so its session ticket, is done. Loop only.
func dropResumptionSecret(tc *tls.Conn) {
	if resumptionSecretOff != 0 {
		*(*[]byte)(unsafe.Add(unsafe.Pointer(tc), resumptionSecretOff)) = nil
	}
}
