package reactor_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/chatd/chatd/reactor"
)

// echo writes every byte back. OnData runs on the loop, so it only queues.
type echo struct{}

func (echo) OnOpen(c *reactor.Conn) {}
func (echo) OnData(c *reactor.Conn, data []byte) int {
	c.Write(append([]byte(nil), data...)) // data is only valid during the call
	return len(data)
}
func (echo) OnClose(c *reactor.Conn, err error) {}

func Example_echo() {
	eng, err := reactor.New(echo{}, reactor.Options{Loops: 2})
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
	conn.Write([]byte("hello, reactor"))
	buf := make([]byte, 14)
	io.ReadFull(conn, buf)
	fmt.Println(string(buf))
	conn.Close()
	eng.Shutdown(context.Background())
	// Output: hello, reactor
}
