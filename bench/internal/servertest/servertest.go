package servertest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
)

// Serve is a bench server's entry point.
type Serve func(ctx context.Context, cfg srvmain.Config) error

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs serve in mode on a free port with two loops and returns its
// address; the server is stopped, and must return nil, when the test ends.
func Start(t testing.TB, serve Serve, mode string) string {
	t.Helper()
	cfg := srvmain.Config{Port: FreePort(t), Loops: 2, Mode: mode}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not return 10s after cancel")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", cfg.Addr(), time.Second)
		if err == nil {
			c.Close()
			return cfg.Addr()
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited before listening: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never listened on %s: %v", cfg.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dial opens a client connection to a bench server.
type Dial func(addr string) (net.Conn, error)

// TCP is the Dial of the raw servers.
func TCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

func dial(t testing.TB, d Dial, addr string) net.Conn {
	t.Helper()
	c, err := d(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// CheckEcho writes random bytes in random chunk sizes on several
// connections at once and requires each to read back the identical stream.
func CheckEcho(t *testing.T, addr string) { t.Helper(); CheckEchoOver(t, TCP, addr) }

// CheckEchoOver is CheckEcho on connections made by d.
func CheckEchoOver(t *testing.T, d Dial, addr string) {
	t.Helper()
	const conns, total = 8, 256 << 10
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		c := dial(t, d, addr)
		go func(seed uint64) {
			rng := rand.New(rand.NewPCG(seed, 1))
			want := make([]byte, total)
			for j := range want {
				want[j] = byte(rng.Uint32())
			}
			go func() {
				for off := 0; off < total; {
					n := min(1+rng.IntN(9000), total-off)
					if _, err := c.Write(want[off : off+n]); err != nil {
						return
					}
					off += n
				}
			}()
			got := make([]byte, total)
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- fmt.Errorf("conn %d: read: %w", seed, err)
				return
			}
			if !bytes.Equal(got, want) {
				errs <- fmt.Errorf("conn %d: echoed stream differs", seed)
				return
			}
			errs <- nil
		}(uint64(i))
	}
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// CheckBroadcast connects several clients, lets two of them send numbered
// frames of varied size, split at awkward places, and requires every client
// to receive every frame whole and in each sender's order.
func CheckBroadcast(t *testing.T, addr string) { t.Helper(); CheckBroadcastOver(t, TCP, addr, false) }

// CheckBroadcastOver is CheckBroadcast on connections made by d; with
// wholeFrames each write carries one whole frame (a server that relays
// messages, as over WebSocket, cannot join frames split between them).
func CheckBroadcastOver(t *testing.T, d Dial, addr string, wholeFrames bool) {
	t.Helper()
	const clients, senders, perSender = 6, 2, 300
	cs := make([]net.Conn, clients)
	for i := range cs {
		cs[i] = dial(t, d, addr)
	}
	// Wait until the server has registered every client: a probe frame from
	// the last client must reach all of them.
	probe := frame.Append(nil, []byte("probe"))
	deadline := time.Now().Add(10 * time.Second)
	for ready := false; !ready; {
		if time.Now().After(deadline) {
			t.Fatal("clients never all joined the broadcast")
		}
		if _, err := cs[clients-1].Write(probe); err != nil {
			t.Fatal(err)
		}
		ready = true
		for _, c := range cs {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, len(probe))
			if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, probe) {
				ready = false
			}
		}
		// Drain duplicates from earlier probes before the real test.
		for _, c := range cs {
			for {
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				buf := make([]byte, len(probe))
				if _, err := io.ReadFull(c, buf); err != nil {
					break
				}
			}
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		}
	}

	for s := 0; s < senders; s++ {
		go func(s int) {
			var stream []byte
			var ends []int
			for seq := 0; seq < perSender; seq++ {
				payload := make([]byte, 12+seq%700)
				binary.BigEndian.PutUint32(payload, uint32(s))
				binary.BigEndian.PutUint64(payload[4:], uint64(seq))
				stream = frame.Append(stream, payload)
				ends = append(ends, len(stream))
			}
			for off := 0; off < len(stream); {
				n := min(1+(off*7919)%5000, len(stream)-off)
				if wholeFrames {
					n, ends = ends[0]-off, ends[1:]
				}
				if _, err := cs[s].Write(stream[off : off+n]); err != nil {
					return
				}
				off += n
			}
		}(s)
	}
	errs := make(chan error, clients)
	for i, c := range cs {
		go func(i int, c net.Conn) {
			next := make([]int, senders)
			for got := 0; got < senders*perSender; got++ {
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					errs <- fmt.Errorf("client %d after %d frames: %w", i, got, err)
					return
				}
				payload := make([]byte, binary.BigEndian.Uint32(hdr[:]))
				if _, err := io.ReadFull(c, payload); err != nil {
					errs <- fmt.Errorf("client %d: payload: %w", i, err)
					return
				}
				s := int(binary.BigEndian.Uint32(payload))
				seq := int(binary.BigEndian.Uint64(payload[4:]))
				if s >= senders || seq != next[s] || len(payload) != 12+seq%700 {
					errs <- fmt.Errorf("client %d: got sender %d seq %d len %d, want seq %d", i, s, seq, len(payload), next[s%senders])
					return
				}
				next[s]++
			}
			errs <- nil
		}(i, c)
	}
	for range cs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// WebSocket dials addr and upgrades at wsclient.Path.
func WebSocket(addr string) (net.Conn, error) { return wsclient.Dial(addr, 5*time.Second) }

// CheckWebSocketServer starts serve in each mode and checks it over
// WebSocket, one whole frame per message for broadcast.
func CheckWebSocketServer(t *testing.T, serve Serve) {
	t.Run("echo", func(t *testing.T) { CheckEchoOver(t, WebSocket, Start(t, serve, srvmain.ModeEcho)) })
	t.Run("broadcast", func(t *testing.T) {
		CheckBroadcastOver(t, WebSocket, Start(t, serve, srvmain.ModeBroadcast), true)
	})
}
