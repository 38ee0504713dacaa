package reactor_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/chatd/chatd/reactor"
)

// lengthPrefix is a Layer that frames every unit the handler writes with a
// 2-byte big-endian length and hands the handler one whole payload per
// frame it receives: the shape of a WebSocket layer, without the rest of
// WebSocket.
type lengthPrefix struct{ io *reactor.LayerIO }

func (l *lengthPrefix) Open(io *reactor.LayerIO) error { l.io = io; return nil }

// Decode passes every whole frame up and leaves a partial one for later.
func (l *lengthPrefix) Decode(in []byte) (int, error) {
	n := 0
	for len(in)-n >= 2 {
		size := int(binary.BigEndian.Uint16(in[n:]))
		if len(in)-n-2 < size {
			break
		}
		l.io.Up(in[n+2 : n+2+size])
		n += 2 + size
	}
	return n, nil
}

// Encode writes the header, then the handler's buffers unchanged.
func (l *lengthPrefix) Encode(unit [][]byte) error {
	size := 0
	for _, b := range unit {
		size += len(b)
	}
	l.io.Down(binary.BigEndian.AppendUint16(nil, uint16(size)))
	for _, b := range unit {
		l.io.Down(b)
	}
	return nil
}

func (l *lengthPrefix) Flush() error { return nil }
func (l *lengthPrefix) Wake() error  { return nil }
func (l *lengthPrefix) Close()       {}
func (l *lengthPrefix) Release()     {}

// framedEcho pushes the layer when a connection opens and answers every
// payload; it never sees a length header.
type framedEcho struct{}

func (framedEcho) OnOpen(c *reactor.Conn) { c.PushLayer(&lengthPrefix{}) }
func (framedEcho) OnData(c *reactor.Conn, payload []byte) int {
	c.Writev([]byte("echo: "), append([]byte(nil), payload...)) // one unit, one frame
	return len(payload)
}
func (framedEcho) OnClose(c *reactor.Conn, err error) {}

func Example_layer() {
	eng, err := reactor.New(framedEcho{}, reactor.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	addr, err := eng.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	conn.Write([]byte("\x00\x05hello\x00\x02hi"))
	for range 2 {
		var hdr [2]byte
		io.ReadFull(conn, hdr[:])
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		io.ReadFull(conn, body)
		fmt.Printf("%d %s\n", len(body), body)
	}
	conn.Close()
	eng.Shutdown(context.Background())
	// Output:
	// 11 echo: hello
	// 8 echo: hi
}
