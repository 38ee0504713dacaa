package reactor

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// openConns dials n clients to addr and returns them with the server-side
// conns, paired by dial order (each is collected before the next dial).
func openConns(t *testing.T, addr string, opened <-chan *Conn, n int) ([]net.Conn, []*Conn) {
	t.Helper()
	clients := make([]net.Conn, n)
	servers := make([]*Conn, n)
	for i := range n {
		clients[i] = dialTCP(t, addr)
		select {
		case servers[i] = <-opened:
		case <-time.After(20 * time.Second):
			t.Fatal("timed out waiting for OnOpen")
		}
	}
	return clients, servers
}

func TestWriteBatchOrderAcrossLoopsAndEngines(t *testing.T) {
	// Two engines of two loops each: grouping by loop and engine.
	checkBatchOrder(t, 200, []Options{{Loops: 2}, {Loops: 2}}, []int{10, 10})
}

func TestWriteBatchManyConnsAndLoops(t *testing.T) {
	// 150 conns on one loop span several lock-sized chunks; ten more loops
	// (conns placed evenly by the single acceptor) exceed the per-call
	// buckets, so the fallback path runs too.
	checkBatchOrder(t, 40, []Options{{Loops: 1}, {Loops: 10, SingleAcceptor: true}}, []int{150, 20})
}

// checkBatchOrder opens perEngine[i] conns on an engine with opts[i], then
// alternates WriteBatch and per-conn Write from one goroutine: every
// receiver must see frames 0..frames-1 in order, whatever the path.
func checkBatchOrder(t *testing.T, frames int, opts []Options, perEngine []int) {
	var clients []net.Conn
	var conns []*Conn
	for i, o := range opts {
		opened := make(chan *Conn, perEngine[i])
		r := newRecorder(t)
		r.open = func(c *Conn) { opened <- c }
		_, addr := startEngine(t, r, o)
		cl, sv := openConns(t, addr, opened, perEngine[i])
		clients, conns = append(clients, cl...), append(conns, sv...)
	}
	const size = 100
	for i := range frames {
		b := pattern(i*size, size)
		if i%2 == 0 {
			if got := WriteBatch(b, conns); got != len(conns) {
				t.Fatalf("frame %d: WriteBatch queued %d of %d", i, got, len(conns))
			}
			continue
		}
		for _, c := range conns {
			if err := c.Write(b); err != nil {
				t.Fatalf("frame %d: Write: %v", i, err)
			}
		}
	}
	want := pattern(0, frames*size)
	for i, cl := range clients {
		got := make([]byte, len(want))
		cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("client %d: frames out of order or corrupted", i)
		}
	}
}

func TestWriteBatchSkipsClosedAndNil(t *testing.T) {
	r, opened := openedRecorder(t, 4)
	_, addr := startEngine(t, r, Options{Loops: 2})
	clients, conns := openConns(t, addr, opened, 4)
	if err := conns[1].Close(); err != nil {
		t.Fatal(err)
	}
	if ev := r.waitClose(t); ev.c != conns[1] || ev.err != nil {
		t.Fatalf("close event %v for conn %d", ev.err, ev.c.ID())
	}
	batch := append(conns[:len(conns):len(conns)], nil)
	if got := WriteBatch([]byte("hi"), batch); got != 3 {
		t.Fatalf("queued on %d conns, want 3 (one closed, one nil)", got)
	}
	if got := WriteBatch(nil, conns); got != 0 {
		t.Fatalf("empty frame queued on %d conns, want 0", got)
	}
	for i, cl := range clients {
		if i == 1 {
			if b := readAllTimeout(t, cl, 20*time.Second); len(b) != 0 {
				t.Fatalf("closed conn got %q", b)
			}
			continue
		}
		got := make([]byte, 2)
		cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil || string(got) != "hi" {
			t.Fatalf("client %d: got %q, %v", i, got, err)
		}
	}
}

func TestWriteBatchSlowConsumer(t *testing.T) {
	// Engine a's limit is below the frame, engine b's above it: a's conns
	// are closed with ErrSlowConsumer, b's get the frame.
	ra, rb := newRecorder(t), newRecorder(t)
	opened := make(chan *Conn, 6)
	ra.open = func(c *Conn) { opened <- c }
	rb.open = ra.open
	_, addrA := startEngine(t, ra, Options{Loops: 2, MaxOutbound: 1 << 10})
	_, addrB := startEngine(t, rb, Options{Loops: 2})
	_, slow := openConns(t, addrA, opened, 3)
	fastClients, fast := openConns(t, addrB, opened, 3)
	frame := pattern(7, 2<<10)
	if got := WriteBatch(frame, append(slow, fast...)); got != len(fast) {
		t.Fatalf("queued on %d conns, want %d", got, len(fast))
	}
	for range slow {
		if ev := ra.waitClose(t); !errors.Is(ev.err, ErrSlowConsumer) {
			t.Fatalf("slow conn closed with %v, want ErrSlowConsumer", ev.err)
		}
	}
	for _, c := range slow {
		if err := c.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after slow-consumer close: %v, want ErrClosed", err)
		}
	}
	for i, cl := range fastClients {
		got := make([]byte, len(frame))
		cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, frame) {
			t.Fatalf("client %d: frame mismatch (%v)", i, err)
		}
	}
}
