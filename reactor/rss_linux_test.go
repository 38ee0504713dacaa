//go:build linux && !reactor_netfallback

package reactor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIdleRSS measures the server's resident memory per idle connection at
// 10,000 connections (REACTOR_RSS=1 enables it; REACTOR_RSS_CONNS overrides
// the count). Clients run in a child process so only server memory counts:
//
//	REACTOR_RSS=1 go test -run TestIdleRSS -v ./reactor/
//
// REACTOR_RSS_TALK=1 makes every client exchange one 64-byte echo first.
func TestIdleRSS(t *testing.T) {
	if addr := os.Getenv("REACTOR_RSS_CLIENT"); addr != "" {
		rssClient(t, addr)
		return
	}
	if os.Getenv("REACTOR_RSS") != "1" {
		// A measurement, not a check: TestIdleConnPinsNoBuffers asserts the
		// property in every run; this reports the figure on request.
		t.Skip("measurement only: set REACTOR_RSS=1 to measure idle RSS per connection")
	}
	n := 10_000
	if s := os.Getenv("REACTOR_RSS_CONNS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	r := newRecorder(t)
	e, addr := startEngine(t, r, Options{})
	settle()
	base := vmRSS(t)
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleRSS$")
	cmd.Env = append(os.Environ(), "REACTOR_RSS_CLIENT="+addr, "REACTOR_RSS_CONNS="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "READY") {
	}
	deadline := time.Now().Add(60 * time.Second)
	for e.Stats().Conns < uint64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.Stats().Conns; got < uint64(n) {
		t.Fatalf("only %d of %d connections open", got, n)
	}
	time.Sleep(time.Second)
	settle()
	rss := vmRSS(t)
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	perConn := float64(rss-base) / float64(n)
	heapPer := float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc)) / float64(n)
	t.Logf("conns=%d rss_before=%d KiB rss_after=%d KiB rss_per_conn=%.0f B heap_per_conn=%.0f B", n, base/1024, rss/1024, perConn, heapPer)
	fmt.Printf("IDLE_RSS_PER_CONN %.0f\n", perConn)
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// vmRSS returns this process's resident set size in bytes.
func vmRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// rssClient opens the connections, reports READY and holds them until stdin closes.
func rssClient(t *testing.T, addr string) {
	n, _ := strconv.Atoi(os.Getenv("REACTOR_RSS_CONNS"))
	conns := make([]net.Conn, 0, n)
	ctx := context.Background()
	var d net.Dialer
	for range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatalf("client dial: %v", err)
		}
		if os.Getenv("REACTOR_RSS_TALK") == "1" {
			// One echoed message first, so buffers were used and released.
			msg := make([]byte, 64)
			c.Write(msg)
			if _, err := io.ReadFull(c, msg); err != nil {
				t.Fatalf("client echo: %v", err)
			}
		}
		conns = append(conns, c)
	}
	fmt.Println("READY")
	os.Stdin.Read(make([]byte, 1))
	for _, c := range conns {
		c.Close()
	}
}
