package reactor

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// scribble overwrites b, as a caller reusing its buffer right after
// WriteCopy returns would.
func scribble(b []byte) {
	for i := range b {
		b[i] = 0xAA
	}
}

// TestWriteCopyInterleavedOrder mixes Write, Writev, WriteCopy (whole frames,
// runs of small pieces that coalesce into one chunk and spill into bigger
// ones, and frames over the biggest chunk) and WriteBatch from one goroutine,
// reusing the WriteCopy buffer at once: every receiver must get exactly the
// reference stream.
func TestWriteCopyInterleavedOrder(t *testing.T) {
	opened := make(chan *Conn, 6)
	r := newRecorder(t)
	r.open = func(c *Conn) { opened <- c }
	_, addr := startEngine(t, r, Options{Loops: 2, MaxOutbound: 64 << 20})
	clients, conns := openConns(t, addr, opened, 6)

	rng := rand.New(rand.NewPCG(3, 4))
	scratch := make([]byte, 200<<10)
	var ref []byte
	for i := range 400 {
		size := 1 + rng.IntN(3000)
		if i%97 == 50 {
			size = maxChunk + 1 + rng.IntN(70<<10) // private-copy path
		}
		f := pattern(len(ref), size)
		ref = append(ref, f...)
		switch i % 5 {
		case 0:
			for _, c := range conns {
				if err := c.Write(f); err != nil {
					t.Fatal(err)
				}
			}
		case 1:
			h := rng.IntN(size)
			for _, c := range conns {
				if err := c.Writev(f[:h], f[h:]); err != nil {
					t.Fatal(err)
				}
			}
		case 2:
			for _, c := range conns {
				s := copy(scratch, f)
				if err := c.WriteCopy(scratch[:s]); err != nil {
					t.Fatal(err)
				}
				scribble(scratch[:s])
			}
		case 3:
			// Many small pieces in a row to one conn: tail-chunk coalescing.
			for _, c := range conns {
				for off := 0; off < size; {
					n := min(1+rng.IntN(200), size-off)
					copy(scratch, f[off:off+n])
					if err := c.WriteCopy(scratch[:n]); err != nil {
						t.Fatal(err)
					}
					scribble(scratch[:n])
					off += n
				}
			}
		case 4:
			if got := WriteBatch(f, conns); got != len(conns) {
				t.Fatalf("WriteBatch queued %d of %d", got, len(conns))
			}
		}
	}
	for i, cl := range clients {
		got := make([]byte, len(ref))
		cl.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if !bytes.Equal(got, ref) {
			t.Fatalf("client %d: stream differs from reference", i)
		}
	}
}

// TestWriteCopyFrom50Goroutines has 50 goroutines WriteCopy numbered frames to
// one conn through one reused buffer each: frames must arrive whole, intact
// and in each goroutine's order.
func TestWriteCopyFrom50Goroutines(t *testing.T) {
	opened := make(chan *Conn, 1)
	r := newRecorder(t)
	r.open = func(c *Conn) { opened <- c }
	_, addr := startEngine(t, r, Options{Loops: 2, MaxOutbound: 64 << 20})
	client := dialTCP(t, addr)
	sc := <-opened

	const writers, perWriter, size = 50, 300, 40
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for s := range perWriter {
				binary.BigEndian.PutUint32(buf[0:], uint32(g))
				binary.BigEndian.PutUint32(buf[4:], uint32(s))
				copy(buf[8:], pattern(g*1000+s, size-8))
				if err := sc.WriteCopy(buf); err != nil {
					t.Errorf("WriteCopy: %v", err)
					return
				}
				scribble(buf)
			}
		}()
	}
	defer wg.Wait() // writers report through t: let them finish first
	next := make([]int, writers)
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	f := make([]byte, size)
	for range writers * perWriter {
		if _, err := io.ReadFull(client, f); err != nil {
			t.Fatalf("read: %v", err)
		}
		g, s := int(binary.BigEndian.Uint32(f[0:])), int(binary.BigEndian.Uint32(f[4:]))
		if g >= writers || s != next[g] {
			t.Fatalf("frame from writer %d seq %d, want seq %d", g, s, next[min(g, writers-1)])
		}
		if !bytes.Equal(f[8:], pattern(g*1000+s, size-8)) {
			t.Fatalf("writer %d seq %d: payload corrupted", g, s)
		}
		next[g]++
	}
}

// TestWriteCopyEcho echoes with WriteCopy straight from OnData's slice,
// which the reactor reuses for the next read as soon as OnData returns.
func TestWriteCopyEcho(t *testing.T) {
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int {
		if err := c.WriteCopy(b); err != nil {
			t.Errorf("WriteCopy: %v", err)
		}
		return len(b)
	}
	_, addr := startEngine(t, r, Options{Loops: 2})
	var wg sync.WaitGroup
	for k := range 8 {
		client := dialTCP(t, addr)
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			want := pattern(k*77, 1<<20)
			go func() {
				for off := 0; off < len(want); off += 3000 {
					if _, err := c.Write(want[off:min(off+3000, len(want))]); err != nil {
						return
					}
				}
			}()
			got := make([]byte, len(want))
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("read: %v", err)
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("client %d: echo differs", k)
			}
		}(client)
	}
	wg.Wait()
}
