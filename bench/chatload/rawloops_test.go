package chatload

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// fakeLoginServer answers the login on every connection with status, then
// (when accepted) writes pushes: frames cut at odd places, so the loops
// must keep partial frames for the next read.
func fakeLoginServer(t *testing.T, status protocol.Status, pushes [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h, _, err := protocol.ReadFrame(c, maxFrameBody, nil)
				if err != nil || h.Op != protocol.OpLogin {
					return
				}
				// A push before the reply is not the receiver's yet.
				stream := protocol.AppendFrame(nil, protocol.OpPresence, 0, []byte(`{}`))
				reply, _ := protocol.AppendJSONFrame(nil, protocol.OpLogin, h.ReqID, &status)
				stream = append(stream, reply...)
				for _, p := range pushes {
					stream = append(stream, p...)
				}
				for len(stream) > 0 {
					n := min(len(stream), 7)
					if _, err := c.Write(stream[:n]); err != nil {
						return
					}
					stream = stream[n:]
					time.Sleep(time.Millisecond)
				}
				_, _ = io.Copy(io.Discard, c) // until the receiver closes
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRecvLoops(t *testing.T) {
	hub, err := newRecvLoops()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.close)
	var pushes [][]byte
	for i := range 5 {
		pushes = append(pushes, protocol.AppendFrame(nil, protocol.OpMsgPush, 0, []byte{'a' + byte(i), '!'}))
	}
	addr := fakeLoginServer(t, protocol.OK(), pushes)
	var mu sync.Mutex
	var got []string
	chunks := 0
	all := make(chan struct{})
	err = hub.login(context.Background(), addr, "u", "tok", "d", func(_ time.Time, op protocol.Op, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		if op != protocol.OpMsgPush {
			t.Errorf("op %v handed over", op)
		}
		got = append(got, string(body))
		if len(got) == len(pushes) {
			close(all)
		}
	}, func() {
		mu.Lock()
		chunks++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatal("pushes did not all arrive")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, b := range got {
		if want := string([]byte{'a' + byte(i), '!'}); b != want {
			t.Fatalf("push %d = %q, want %q (all: %q)", i, b, want, got)
		}
	}
	if chunks == 0 {
		t.Fatal("chunkDone never ran")
	}
	if hub.count() != 1 {
		t.Fatalf("count = %d", hub.count())
	}
}

func TestRecvLoopsRefusedLogin(t *testing.T) {
	hub, err := newRecvLoops()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.close)
	addr := fakeLoginServer(t, protocol.Status{Code: protocol.CodeUnauthenticated, Message: "bad token"}, nil)
	err = hub.login(context.Background(), addr, "u", "tok", "d", func(time.Time, protocol.Op, []byte) {}, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnauthenticated {
		t.Fatalf("login err = %v, want the server's UNAUTHENTICATED status", err)
	}
	if hub.count() != 0 {
		t.Fatalf("count = %d after a refused login", hub.count())
	}
}
