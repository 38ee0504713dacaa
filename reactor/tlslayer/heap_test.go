package tlslayer

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/internal/heaptest"
	"github.com/chatd/chatd/reactor"
)

// BenchmarkIdleConnHeap measures the server's live heap per idle TLS 1.3
// connection: 2,000 connections from a child process (so the clients'
// memory is not counted) each echo one message, then sit idle past two
// sweeps; the heap after GC, less the heap before they connected, is
// divided by their number. rss-B/conn is the resident set's growth per
// connection once memory the heap no longer uses went back to the OS
// (debug.FreeOSMemory before both readings): what an idle process can get
// down to, whatever its peak. b.N is ignored.
func BenchmarkIdleConnHeap(b *testing.B) {
	heap, rss := idleConnHeap(b, 2000)
	b.ReportMetric(heap, "heap-B/conn")
	b.ReportMetric(rss, "rss-B/conn")
}

// maxIdleConnHeap bounds TestIdleConnHeap's live heap per idle connection,
// the reactor's own share (its Conn and layer stack, about 350 B) included.
// It was 1,196 B while a connection kept a whole tls.ConnectionState,
// 1,005 B while the reactor's layer stack had room for four layers,
// 867-875 B while every connection kept crypto/tls's exporter, and
// 755-763 B since (2,000 connections); a regression of a cipher (about
// 800 B a direction), of the exporter (about 100 B) or of a stray struct
// shows.
const maxIdleConnHeap = 850

// TestIdleConnHeap fails if an idle TLS 1.3 connection's live heap grows
// past maxIdleConnHeap. Heap bytes after GC, not time, are measured.
func TestIdleConnHeap(t *testing.T) {
	heaptest.Skip(t, "1,000 connections")
	heap, _ := idleConnHeap(t, 1000)
	heaptest.Bound(t, heap, maxIdleConnHeap, "idle connection")
}

// idleConnHeap opens conns connections from a child process, echoes one
// message on each, lets them sit idle past several sweeps and returns the
// server's live heap growth per connection and its resident set's growth
// per connection after debug.FreeOSMemory.
func idleConnHeap(tb testing.TB, conns int) (heapPerConn, rssPerConn float64) {
	fastSweep(tb)
	cert := newTestCert(tb, "heap")
	dir := tb.TempDir()
	os.WriteFile(dir+"/cert.pem", cert.certPEM, 0o600)
	_, _, addr := serve(tb, cert, nil, Options{}, reactor.Options{})
	time.Sleep(100 * time.Millisecond)
	before := heaptest.Live()
	rssBefore := rss(tb)
	stop := heaptest.Child(tb, "TestIdleClients", "TLSLAYER_IDLE_CLIENTS="+addr+","+strconv.Itoa(conns)+","+dir+"/cert.pem")
	time.Sleep(300 * time.Millisecond) // several sweeps: the ciphers go
	after := heaptest.Live()
	heaptest.WriteProfile(tb, "TLSLAYER_HEAP_PROFILE")
	heapPerConn = float64(int64(after)-int64(before)) / float64(conns)
	rssPerConn = float64(rss(tb)-rssBefore) / float64(conns)
	stop()
	return heapPerConn, rssPerConn
}

// rss returns the process's resident set size after returning free memory to the OS.
func rss(tb testing.TB) int64 {
	debug.FreeOSMemory()
	st, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(st))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestIdleClients is BenchmarkIdleConnHeap's child process: it opens the
// connections, echoes once on each, says "ready" and waits for stdin to close.
func TestIdleClients(t *testing.T) {
	env := os.Getenv("TLSLAYER_IDLE_CLIENTS")
	if env == "" {
		t.Skip("the child process of BenchmarkIdleConnHeap")
	}
	args := strings.Split(env, ",")
	addr := args[0]
	n, _ := strconv.Atoi(args[1])
	pemBytes, _ := os.ReadFile(args[2])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	var keep []*tls.Conn
	for range n {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, c)
	}
	heaptest.Hold()
	for _, c := range keep {
		c.Close()
	}
}
