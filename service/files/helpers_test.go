package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// memMeta is an in-memory Meta with failure injection.
type memMeta struct {
	mu      sync.Mutex
	files   map[int64]store.FileMeta
	next    int64
	markErr error // returned once by MarkFileComplete when set
}

func newMemMeta() *memMeta { return &memMeta{files: make(map[int64]store.FileMeta)} }

func (m *memMeta) File(_ context.Context, id int64) (store.FileMeta, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[id]
	if !ok {
		return store.FileMeta{}, fmt.Errorf("file %d: %w", id, store.ErrNotFound)
	}
	return f, nil
}

func (m *memMeta) MarkFileComplete(_ context.Context, id int64, ts int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.markErr; err != nil {
		m.markErr = nil
		return err
	}
	f, ok := m.files[id]
	if !ok {
		return fmt.Errorf("file %d: %w", id, store.ErrNotFound)
	}
	f.CompletedAt = ts
	m.files[id] = f
	return nil
}

// add records a file of data owned by owner and returns its id.
func (m *memMeta) add(owner int64, data []byte) int64 {
	return m.addSized(owner, int64(len(data)), sha(data))
}

func (m *memMeta) addSized(owner, size int64, sum string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	m.files[m.next] = store.FileMeta{ID: m.next, Owner: owner, Conv: "p:1:2", Name: "f.bin", Size: size, SHA256: sum, CreatedAt: 1}
	return m.next
}

func (m *memMeta) get(id int64) store.FileMeta {
	f, _ := m.File(context.Background(), id)
	return f
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	rand.NewChaCha8(s).Read(b)
	return b
}

// harness is a running server on a loopback port.
type harness struct {
	s         *Server
	meta      *memMeta
	addr      string
	completes atomic.Int64
	serveErr  chan error
}

func newHarness(t testing.TB, tweak func(*Config)) *harness {
	t.Helper()
	h := &harness{meta: newMemMeta(), serveErr: make(chan error, 1)}
	cfg := Config{
		DataDir:         t.TempDir(),
		Meta:            h.meta,
		CleanupInterval: -1,
		OnComplete: func(context.Context, store.FileMeta) error {
			h.completes.Add(1)
			return nil
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.s, h.addr = s, ln.Addr().String()
	go func() { h.serveErr <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-h.serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return h
}

func (h *harness) upload(t testing.TB, owner int64, data []byte) int64 {
	t.Helper()
	id := h.meta.add(owner, data)
	if _, err := Upload(context.Background(), h.addr, h.s.UploadToken(owner, id), 0, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("upload: %v", err)
	}
	return id
}

func (h *harness) download(t testing.TB, user, id int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Download(context.Background(), h.addr, h.s.DownloadToken(user, id), 0, &buf); err != nil {
		t.Fatalf("download: %v", err)
	}
	return buf.Bytes()
}

// waitIdle waits until no upload of id is in progress (the server noticed
// a cut connection). It polls a condition, not a duration.
func (h *harness) waitIdle(t testing.TB, id int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.s.mu.Lock()
		_, busy := h.s.uploads[id]
		h.s.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload of %d still in progress", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawConn is a hand-driven file-port client for protocol-level tests.
type rawConn struct {
	t testing.TB
	net.Conn
}

func (h *harness) dialRaw(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c}
}

func (c *rawConn) send(op protocol.Op, reqID uint32, body any) {
	c.t.Helper()
	frame, err := protocol.AppendJSONFrame(nil, op, reqID, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.Write(frame); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one frame and decodes it into a map.
func (c *rawConn) reply() (protocol.Header, map[string]any) {
	c.t.Helper()
	h, body, err := protocol.ReadFrame(c, protocol.DefaultMaxFrameBody, nil)
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	var m map[string]any
	if err := protocol.Unmarshal(body, &m); err != nil {
		c.t.Fatalf("decode reply %q: %v", body, err)
	}
	return h, m
}

func (c *rawConn) expectCode(want protocol.Code) map[string]any {
	c.t.Helper()
	_, m := c.reply()
	if m["code"] != string(want) {
		c.t.Fatalf("code %v, want %s (reply %v)", m["code"], want, m)
	}
	return m
}

// expectClosed checks that the server closes the connection without
// sending anything (more).
func (c *rawConn) expectClosed() {
	c.t.Helper()
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || err == nil {
		c.t.Fatalf("read %d bytes, err %v; want the connection closed", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection not closed: %v", err)
	}
}

func codeOf(t testing.TB, err error) protocol.Code {
	t.Helper()
	if err == nil {
		return protocol.CodeOK
	}
	e := protocol.AsError(err)
	if e == nil {
		t.Fatalf("error %v is not a reply error", err)
	}
	return e.Code
}

func partSize(t testing.TB, s *Server, id int64) int64 {
	t.Helper()
	fi, err := os.Stat(s.partPath(id))
	if err != nil {
		t.Fatalf("stat part: %v", err)
	}
	return fi.Size()
}
