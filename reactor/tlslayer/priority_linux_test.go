package tlslayer

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatd/chatd/reactor"
)

// processNice is the nice value the process's threads run at (any thread
// not locked by a handshake).
func processNice(t *testing.T) int {
	t.Helper()
	n, err := threadNice()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// taskNice reads a thread's nice value from /proc/self/task/<tid>/stat
// (field 19, counted after the parenthesised command name).
func taskNice(t *testing.T, tid string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc/self/task", tid, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.Atoi(fields[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hasSysNice reports whether the process holds CAP_SYS_NICE (bit 23 of
// CapEff), which lets it raise a thread's priority back.
func hasSysNice(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<23) != 0
		}
	}
	return false
}

func TestThreadPriorityLowersAndRestores(t *testing.T) {
	base := processNice(t)
	if hasSysNice(t) && base < 19 && !canLowerThreads() {
		t.Fatal("the process holds CAP_SYS_NICE, yet canLowerThreads says no")
	}
	if !canLowerThreads() {
		if n := NewServer(&tls.Config{}, Options{HandshakeNice: 3}).HandshakeNice(); n != 0 {
			t.Fatalf("HandshakeNice() = %d where threads cannot be raised back", n)
		}
		return
	}
	type seen struct{ during, after int }
	got := make(chan seen)
	go func() {
		p := threadPriority{delta: 3}
		p.lower()
		during, _ := threadNice()
		p.restore()
		after, _ := threadNice()
		got <- seen{during, after}
	}()
	s := <-got
	want := min(19, base+3)
	if s.during != want || s.after != base {
		t.Fatalf("nice during %d (want %d), after %d (want %d); canLowerThreads %v", s.during, want, s.after, base, canLowerThreads())
	}
}

// TestHandshakeComputesOnALoweredThread: GetCertificate runs while the
// handshake computes, on its goroutine, so it sees the thread's nice value;
// afterwards no thread of the process is left lowered.
func TestHandshakeComputesOnALoweredThread(t *testing.T) {
	base := processNice(t)
	for _, tc := range []struct {
		name string
		opt  int
		want int // steps below the process while computing
	}{
		{"default", 0, defaultHandshakeNice},
		{"five", 5, 5},
		{"off", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !canLowerThreads() {
				tc.want = 0
			}
			cert := newTestCert(t, "nice")
			var mu sync.Mutex
			var nices []int
			_, _, addr := serve(t, cert, func(c *tls.Config) {
				c.Certificates = nil
				c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
					n, err := threadNice()
					if err != nil {
						return nil, err
					}
					mu.Lock()
					nices = append(nices, n)
					mu.Unlock()
					return &cert.cert, nil
				}
			}, Options{HandshakeNice: tc.opt}, reactor.Options{})
			for range 8 {
				c, err := dialTLS(t, addr, cert, nil)
				if err != nil {
					t.Fatal(err)
				}
				c.Write([]byte("x"))
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			for _, n := range nices {
				if n != min(19, base+tc.want) {
					t.Fatalf("handshakes computed at nice %v, want %d", nices, min(19, base+tc.want))
				}
			}
			if len(nices) != 8 {
				t.Fatalf("GetCertificate ran %d times, want 8", len(nices))
			}
			tasks, err := os.ReadDir("/proc/self/task")
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				if n := taskNice(t, task.Name()); n != base {
					t.Fatalf("thread %s left at nice %d, process at %d", task.Name(), n, base)
				}
			}
		})
	}
}
