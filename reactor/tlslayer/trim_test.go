package tlslayer

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"
	"unsafe"

	"github.com/chatd/chatd/reactor"
)

// probe is a pass-through layer above TLS whose Wake, run on the loop,
// reports what the TLS layer's tls.Conn holds.
type probe struct {
	io     *reactor.LayerIO
	tls    *Layer
	report chan [2]int
}

func (p *probe) Open(io *reactor.LayerIO) error { p.io = io; return nil }
func (p *probe) Decode(in []byte) (int, error)  { p.io.Up(in); return len(in), nil }
func (p *probe) Encode(unit [][]byte) error {
	for _, b := range unit {
		p.io.Down(b)
	}
	return nil
}
func (p *probe) Flush() error { return nil }
func (p *probe) Close()       {}
func (p *probe) Release()     {}
func (p *probe) Wake() error {
	if p.tls.tc == nil { // the TLS 1.3 record layer took over: its own buffers
		p.report <- [2]int{cap(p.tls.gather), cap(p.tls.rec.part())}
		return nil
	}
	base := unsafe.Pointer(p.tls.tc)
	raw := (*bytes.Buffer)(unsafe.Add(base, trimFields.rawInput))
	hand := (*bytes.Buffer)(unsafe.Add(base, trimFields.hand))
	p.report <- [2]int{raw.Cap(), hand.Cap()}
	return nil
}

// TestIdleConnHoldsNoRecordBuffers: after records of every size went
// through, a quiet TLS connection keeps no record input buffer in its
// tls.Conn (crypto/tls would keep one as large as the largest record), on
// TLS 1.2 and 1.3 (where the record layer of record.go holds no buffer
// either). It fails if a Go release renames the fields trimming
// relies on, so that the loss is noticed.
func TestIdleConnHoldsNoRecordBuffers(t *testing.T) {
	if !trimFields.ok {
		t.Fatal("crypto/tls.Conn no longer has rawInput/input/hand as bytes.Buffer/Reader: idle connections keep their record buffers")
	}
	cert := newTestCert(t, "trim")
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{Loops: 1})
			c, err := dialTLS(t, addr, cert, func(c *tls.Config) { c.MinVersion, c.MaxVersion = v.v, v.v })
			if err != nil {
				t.Fatal(err)
			}
			sc := <-r.opened
			p := &probe{tls: r.layer(sc), report: make(chan [2]int, 1)}
			for _, size := range []int{1, 700, 16 << 10, 40 << 10} {
				msg := bytes.Repeat([]byte{7}, size)
				c.Write(msg)
				if _, err := io.ReadFull(c, msg); err != nil {
					t.Fatal(err)
				}
			}
			pushed := make(chan *reactor.LayerIO, 1)
			r.setData(func(c *reactor.Conn, b []byte) int {
				c.PushLayer(p)
				pushed <- p.io
				c.WriteCopy(b)
				return len(b)
			})
			c.Write([]byte("p"))
			io.ReadFull(c, make([]byte, 1))
			(<-pushed).Wake()
			if got := <-p.report; got != [2]int{} {
				t.Fatalf("idle tls.Conn holds rawInput cap %d, hand cap %d; want none", got[0], got[1])
			}
		})
	}
}
