package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// unpaced is a harness tweak for tests of bulk bytes rather than pacing:
// under the race detector the transfer alone makes the process late, and
// the pacer (doing its job) would slow it to a crawl. Pacing has its own
// tests in pacer_test.go.
func unpaced(c *Config) { c.DisablePacing = true }

func TestRoundTrip100MiB(t *testing.T) {
	h := newHarness(t, unpaced)
	data := randBytes(1, 100<<20)
	id := h.upload(t, 7, data)

	if h.completes.Load() != 1 {
		t.Fatalf("OnComplete called %d times, want 1", h.completes.Load())
	}
	if h.meta.get(id).CompletedAt == 0 {
		t.Fatal("file not marked complete")
	}
	if _, err := os.Stat(h.s.partPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partial file left behind: %v", err)
	}
	got := h.download(t, 9, id)
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}
}

func TestUploadFromFileAndDownloadToFile(t *testing.T) {
	// *os.File on both ends takes the sendfile/splice paths of the client.
	h := newHarness(t, nil)
	data := randBytes(2, 3<<20+17)
	src := writeTemp(t, data)
	id := h.meta.add(1, data)
	if _, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, id), 0, src, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	size, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, id), 0, dst)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("download: size %d, %v", size, err)
	}
	got, _ := os.ReadFile(dst.Name())
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
}

func writeTemp(t *testing.T, data []byte) *os.File {
	t.Helper()
	f, err := os.Create(t.TempDir() + "/src")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEmptyFile(t *testing.T) {
	h := newHarness(t, nil)
	id := h.upload(t, 1, nil)
	if got := h.download(t, 2, id); len(got) != 0 {
		t.Fatalf("got %d bytes", len(got))
	}
}

// cutUpload starts an upload of data, sends its first n bytes and closes
// the connection, as a client losing its network would.
func cutUpload(t *testing.T, h *harness, token string, data []byte, n int) {
	t.Helper()
	c := h.dialRaw(t)
	c.send(protocol.OpFileUpload, 5, &protocol.FileUploadReq{UploadToken: token})
	m := c.expectCode(protocol.CodeOK)
	from := int(m["offset"].(float64))
	if _, err := c.Write(data[from:n]); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestResumeAfterCutAtRandomOffset(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(3, 8<<20)
	id := h.meta.add(1, data)
	tok := h.s.UploadToken(1, id)
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 0))
	cut1 := 1 + r.IntN(len(data)-2)
	cut2 := cut1 + r.IntN(len(data)-cut1)
	t.Logf("seed %d: cuts at %d and %d", seed, cut1, cut2)

	cutUpload(t, h, tok, data, cut1)
	h.waitIdle(t, id)
	if got := partSize(t, h.s, id); got != int64(cut1) {
		t.Fatalf("after the cut the server holds %d bytes, want %d", got, cut1)
	}
	cutUpload(t, h, tok, data, cut2) // resumes from cut1, cut again
	h.waitIdle(t, id)
	if got := partSize(t, h.s, id); got != int64(cut2) {
		t.Fatalf("after the second cut the server holds %d bytes, want %d", got, cut2)
	}
	// The client's belief (0) does not matter: the server's offset wins.
	from, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if from != int64(cut2) {
		t.Fatalf("resumed from %d, want %d", from, cut2)
	}
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("resumed file differs")
	}
}

func TestResumeReplacesStalledConnection(t *testing.T) {
	// The client reconnects before the server noticed its old connection
	// died: the new upload takes over instead of waiting for IOTimeout.
	h := newHarness(t, nil)
	data := randBytes(4, 1<<20)
	id := h.meta.add(1, data)
	tok := h.s.UploadToken(1, id)
	stalled := h.dialRaw(t)
	stalled.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: tok})
	stalled.expectCode(protocol.CodeOK)
	if _, err := stalled.Write(data[:1000]); err != nil {
		t.Fatal(err)
	}
	if _, err := Upload(context.Background(), h.addr, tok, 1000, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	stalled.expectClosed()
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
}

func TestWrongChecksumDiscardsAndAllowsRetryFromZero(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(5, 1<<20)
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	id := h.meta.add(1, data)
	tok := h.s.UploadToken(1, id)

	_, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(bad), int64(len(bad)))
	if codeOf(t, err) != protocol.CodeBadRequest {
		t.Fatalf("upload of wrong bytes: %v, want BAD_REQUEST", err)
	}
	if _, err := os.Stat(h.s.partPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("mismatched bytes kept: %v", err)
	}
	if h.s.Complete(id) || h.meta.get(id).CompletedAt != 0 || h.completes.Load() != 0 {
		t.Fatal("mismatched upload treated as complete")
	}
	var buf bytes.Buffer
	if _, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, id), 0, &buf); codeOf(t, err) != protocol.CodeNotFound {
		t.Fatalf("download after mismatch: %v, want NOT_FOUND", err)
	}
	from, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), int64(len(data)))
	if err != nil || from != 0 {
		t.Fatalf("retry with the same token: from %d, %v", from, err)
	}
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
}

func TestBadTokensAreBadCredentials(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var clock sync.Mutex
	h := newHarness(t, func(c *Config) {
		c.Secret = testSecret
		c.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	})
	data := randBytes(6, 1000)
	id := h.upload(t, 1, data)
	pending := h.meta.add(1, data)
	forger, _ := NewSigner(bytes.Repeat([]byte{1}, 32), time.Hour, nil)
	expiredUp := h.s.signer.issueAt(PurposeUpload, 1, pending, now)
	expiredDown := h.s.signer.issueAt(PurposeDownload, 1, id, now.Add(-time.Minute))

	ups := map[string]string{
		"forged":        forger.Issue(PurposeUpload, 1, pending),
		"expired":       expiredUp,
		"wrong purpose": h.s.DownloadToken(1, pending),
		"garbage":       "not-a-token",
	}
	for name, tok := range ups {
		_, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), int64(len(data)))
		if codeOf(t, err) != protocol.CodeBadCredentials {
			t.Errorf("upload with %s token: %v, want BAD_CREDENTIALS", name, err)
		}
	}
	downs := map[string]string{
		"forged":        forger.Issue(PurposeDownload, 1, id),
		"expired":       expiredDown,
		"wrong purpose": h.s.UploadToken(1, id),
	}
	for name, tok := range downs {
		_, err := Download(context.Background(), h.addr, tok, 0, io.Discard)
		if codeOf(t, err) != protocol.CodeBadCredentials {
			t.Errorf("download with %s token: %v, want BAD_CREDENTIALS", name, err)
		}
	}
	if _, err := os.Stat(h.s.partPath(pending)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused upload created a partial file")
	}
	// A token outlives nothing: an hour later the valid one fails too.
	tok := h.s.DownloadToken(1, id)
	clock.Lock()
	now = now.Add(time.Hour)
	clock.Unlock()
	if _, err := Download(context.Background(), h.addr, tok, 0, io.Discard); codeOf(t, err) != protocol.CodeBadCredentials {
		t.Fatalf("download an hour later: %v, want BAD_CREDENTIALS", err)
	}
}

func TestUploadTokenOfAnotherUserIsForbidden(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(7, 100)
	id := h.meta.add(1, data)
	_, err := Upload(context.Background(), h.addr, h.s.UploadToken(2, id), 0, bytes.NewReader(data), 100)
	if codeOf(t, err) != protocol.CodeForbidden {
		t.Fatalf("%v, want FORBIDDEN", err)
	}
}

func TestUnknownFileIsNotFound(t *testing.T) {
	h := newHarness(t, nil)
	_, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, 999), 0, bytes.NewReader(nil), 0)
	if codeOf(t, err) != protocol.CodeNotFound {
		t.Fatalf("upload: %v, want NOT_FOUND", err)
	}
	_, err = Download(context.Background(), h.addr, h.s.DownloadToken(1, 999), 0, io.Discard)
	if codeOf(t, err) != protocol.CodeNotFound {
		t.Fatalf("download: %v, want NOT_FOUND", err)
	}
}

func TestPartialFileIsNeverServed(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(8, 1<<20)
	id := h.meta.add(1, data)
	cutUpload(t, h, h.s.UploadToken(1, id), data, len(data)-1)
	h.waitIdle(t, id)
	_, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, id), 0, io.Discard)
	if codeOf(t, err) != protocol.CodeNotFound {
		t.Fatalf("download of a partial file: %v, want NOT_FOUND", err)
	}
}

func TestDuplicateUploadAndTokenReuseAfterCompletion(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(9, 4096)
	id := h.meta.add(1, data)
	tok := h.s.UploadToken(1, id)
	if _, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), 4096); err != nil {
		t.Fatal(err)
	}
	completedAt := h.meta.get(id).CompletedAt
	// Reusing the token (or uploading again): the server holds every byte,
	// says so, expects none, and confirms with OK; the file is unchanged.
	other := randBytes(10, 4096)
	from, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(other), 4096)
	if err != nil || from != 4096 {
		t.Fatalf("reuse after completion: from %d, %v; want 4096, OK", from, err)
	}
	if h.meta.get(id).CompletedAt != completedAt {
		t.Fatal("completion time changed")
	}
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("a reused token changed the file")
	}
	// The hook is repeated (it is documented as idempotent) so that a lost
	// announcement can be repaired by uploading again.
	if got := h.completes.Load(); got != 2 {
		t.Fatalf("OnComplete called %d times, want 2", got)
	}
}

// failingWriter fails with err once more than limit bytes were written.
type failingWriter struct {
	w     io.Writer
	limit int64
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= f.limit {
		f.limit -= int64(len(p))
		return f.w.Write(p)
	}
	n, err := f.w.Write(p[:f.limit])
	f.limit = 0
	if err == nil {
		err = f.err
	}
	return n, err
}

func TestDiskFullKeepsPartialAndReportsUnavailable(t *testing.T) {
	const limit = 3<<20 + 5
	var mu sync.Mutex
	full := true
	h := newHarness(t, func(c *Config) {
		c.wrapPart = func(w io.Writer) io.Writer {
			mu.Lock()
			defer mu.Unlock()
			if !full {
				return w
			}
			return &failingWriter{w: w, limit: limit, err: &os.PathError{Op: "write", Path: "part", Err: syscall.ENOSPC}}
		}
	})
	data := randBytes(11, 8<<20)
	id := h.meta.add(1, data)
	tok := h.s.UploadToken(1, id)
	_, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), int64(len(data)))
	if codeOf(t, err) != protocol.CodeUnavailable {
		t.Fatalf("upload on a full disk: %v, want UNAVAILABLE", err)
	}
	h.waitIdle(t, id)
	if got := partSize(t, h.s, id); got != limit {
		t.Fatalf("kept %d bytes, want the %d written", got, limit)
	}
	if h.s.Complete(id) {
		t.Fatal("file complete after a failed write")
	}
	mu.Lock()
	full = false
	mu.Unlock()
	from, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), int64(len(data)))
	if err != nil || from != limit {
		t.Fatalf("resume after space was freed: from %d, %v", from, err)
	}
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
}

func TestOtherWriteErrorIsInternal(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.wrapPart = func(w io.Writer) io.Writer {
			return &failingWriter{w: w, limit: 10, err: syscall.EIO}
		}
	})
	data := randBytes(12, 1<<20)
	id := h.meta.add(1, data)
	_, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, id), 0, bytes.NewReader(data), int64(len(data)))
	if codeOf(t, err) != protocol.CodeInternal {
		t.Fatalf("%v, want INTERNAL", err)
	}
}

func TestCompletionFailuresAreRetried(t *testing.T) {
	var mu sync.Mutex
	hookErr := errors.New("store down")
	calls := 0
	h := newHarness(t, func(c *Config) {
		c.OnComplete = func(_ context.Context, f store.FileMeta) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if f.CompletedAt == 0 {
				return errors.New("hook saw an incomplete file")
			}
			err := hookErr
			hookErr = nil
			return err
		}
	})
	data := randBytes(13, 5000)
	id := h.meta.add(1, data)
	tok := h.s.UploadToken(1, id)

	h.meta.mu.Lock()
	h.meta.markErr = fmt.Errorf("mark: %w", store.ErrUnavailable)
	h.meta.mu.Unlock()
	_, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), 5000)
	if codeOf(t, err) != protocol.CodeUnavailable {
		t.Fatalf("store down at completion: %v, want UNAVAILABLE", err)
	}
	if _, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, id), 0, io.Discard); codeOf(t, err) != protocol.CodeNotFound {
		t.Fatalf("download before the store recorded completion: %v, want NOT_FOUND", err)
	}
	// Retry: bytes are held, completion is recorded, the hook fails once.
	from, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), 5000)
	if codeOf(t, err) != protocol.CodeUnavailable || from != 5000 {
		t.Fatalf("hook failure: from %d, %v; want 5000, UNAVAILABLE", from, err)
	}
	if _, err := Upload(context.Background(), h.addr, tok, 0, bytes.NewReader(data), 5000); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("hook called %d times, want 2", calls)
	}
}

func TestDownloadFromOffset(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(14, 1<<20)
	id := h.upload(t, 1, data)
	for _, off := range []int64{0, 1, 12345, int64(len(data)) - 1, int64(len(data))} {
		var buf bytes.Buffer
		size, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, id), off, &buf)
		if err != nil || size != int64(len(data)) {
			t.Fatalf("offset %d: size %d, %v", off, size, err)
		}
		if !bytes.Equal(buf.Bytes(), data[off:]) {
			t.Fatalf("offset %d: bytes differ", off)
		}
	}
	_, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, id), int64(len(data))+1, io.Discard)
	if codeOf(t, err) != protocol.CodeBadRequest {
		t.Fatalf("offset past the end: %v, want BAD_REQUEST", err)
	}
}

func TestClientDisconnectMidDownload(t *testing.T) {
	h := newHarness(t, unpaced)
	data := randBytes(15, 32<<20)
	id := h.upload(t, 1, data)
	c := h.dialRaw(t)
	c.send(protocol.OpFileDownload, 3, &protocol.FileDownloadReq{DownloadToken: h.s.DownloadToken(2, id)})
	hdr, m := c.reply()
	if hdr.Op != protocol.OpFileDownload || hdr.ReqID != 3 || m["code"] != "OK" || m["size"].(float64) != float64(len(data)) {
		t.Fatalf("reply %v %v", hdr, m)
	}
	if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The server survives, its worker is free again, and the next download
	// is whole.
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
	waitNoConns(t, h.s)
}

// waitPart waits until the partial upload of id holds n bytes.
func waitPart(t *testing.T, s *Server, id, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fi, err := os.Stat(s.partPath(id))
		if err == nil && fi.Size() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partial upload of %d never reached %d bytes (%v)", id, n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitNoConns waits until the server holds no connection.
func waitNoConns(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestManyConcurrentTransfersWithSmallPool(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		unpaced(c)
		c.Workers = 4
		c.Queue = 64
		c.QueueWait = time.Minute
	})
	const n = 50
	files := make([][]byte, n)
	ids := make([]int64, n)
	for i := range files {
		files[i] = randBytes(uint64(100+i), 256<<10+i)
		ids[i] = h.meta.add(1, files[i])
	}
	// Half of the files exist already and are downloaded while the other
	// half is uploaded: 50 transfers in flight on 4 workers.
	for i := 0; i < n/2; i++ {
		h.upload(t, 1, files[i])
		ids[i] = h.meta.next
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if i < n/2 {
				var buf bytes.Buffer
				if _, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, ids[i]), 0, &buf); err != nil {
					errs <- fmt.Errorf("download %d: %w", i, err)
				} else if !bytes.Equal(buf.Bytes(), files[i]) {
					errs <- fmt.Errorf("download %d: bytes differ", i)
				}
				return
			}
			if _, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, ids[i]), 0, bytes.NewReader(files[i]), int64(len(files[i]))); err != nil {
				errs <- fmt.Errorf("upload %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := n / 2; i < n; i++ {
		if sum := sha256.Sum256(h.download(t, 2, ids[i])); fmt.Sprintf("%x", sum) != sha(files[i]) {
			t.Fatalf("file %d differs", i)
		}
	}
}

func TestPoolFullGetsUnavailable(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Workers = 1
		c.Queue = 1
		c.QueueWait = 200 * time.Millisecond
	})
	data := randBytes(16, 1000)
	id := h.meta.add(1, data)
	// Occupy the only worker with a stalled upload.
	busy := h.dialRaw(t)
	busy.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: h.s.UploadToken(1, id)})
	busy.expectCode(protocol.CodeOK)

	// The next connection waits in the queue, the one after finds the
	// queue full; both get UNAVAILABLE echoing their op and req_id.
	other := h.meta.add(1, data)
	for i, reqID := range []uint32{7, 8} {
		c := h.dialRaw(t)
		c.send(protocol.OpFileDownload, reqID, &protocol.FileDownloadReq{DownloadToken: h.s.DownloadToken(1, other)})
		hdr, m := c.reply()
		if m["code"] != string(protocol.CodeUnavailable) || hdr.Op != protocol.OpFileDownload || hdr.ReqID != reqID {
			t.Fatalf("connection %d: %v %v, want UNAVAILABLE for op file.download req %d", i, hdr, m, reqID)
		}
		c.expectClosed()
	}
	// Once the worker is free, service resumes.
	busy.Close()
	h.waitIdle(t, id)
	if _, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, id), 0, bytes.NewReader(data), 1000); err != nil {
		t.Fatal(err)
	}
}

func TestQueuedConnectionGetsWorkerWhenFreed(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Workers = 1
		c.QueueWait = time.Minute
	})
	data := randBytes(17, 1000)
	a := h.meta.add(1, data)
	b := h.meta.add(1, data)
	busy := h.dialRaw(t)
	busy.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: h.s.UploadToken(1, a)})
	busy.expectCode(protocol.CodeOK)
	done := make(chan error, 1)
	go func() {
		_, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, b), 0, bytes.NewReader(data), 1000)
		done <- err
	}()
	if _, err := busy.Write(data); err != nil {
		t.Fatal(err)
	}
	busy.expectCode(protocol.CodeOK)
	if err := <-done; err != nil {
		t.Fatalf("queued upload: %v", err)
	}
}

func TestProtocolErrorsOnFilePort(t *testing.T) {
	h := newHarness(t, nil)

	c := h.dialRaw(t)
	c.send(protocol.OpPing, 4, struct{}{})
	hdr, m := c.reply()
	if m["code"] != string(protocol.CodeUnsupportedOp) || hdr.ReqID != 4 || hdr.Op != protocol.OpPing {
		t.Fatalf("chat op on the file port: %v %v", hdr, m)
	}
	c.expectClosed()

	c = h.dialRaw(t)
	c.Write(protocol.AppendFrame(nil, protocol.OpFileUpload, 5, []byte(`{"upload_token":7}`)))
	c.expectCode(protocol.CodeBadRequest)
	c.expectClosed()

	c = h.dialRaw(t)
	c.send(protocol.OpFileDownload, 6, &protocol.FileDownloadReq{DownloadToken: h.s.DownloadToken(1, 1), Offset: -1})
	c.expectCode(protocol.CodeBadRequest)

	// A frame length over the handshake limit: nothing is sent, the
	// connection is closed.
	c = h.dialRaw(t)
	c.Write(protocol.AppendHeader(nil, protocol.OpFileUpload, 1, maxHandshakeBody+1))
	c.expectClosed()
}

func TestHandshakeTimeoutClosesSilentConnection(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HandshakeTimeout = 50 * time.Millisecond })
	c := h.dialRaw(t)
	c.expectClosed()
}

func TestStalledUploadTimesOutAndKeepsBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IOTimeout = 100 * time.Millisecond })
	data := randBytes(18, 10000)
	id := h.meta.add(1, data)
	c := h.dialRaw(t)
	c.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: h.s.UploadToken(1, id)})
	c.expectCode(protocol.CodeOK)
	c.Write(data[:4000])
	c.expectClosed()
	h.waitIdle(t, id)
	if got := partSize(t, h.s, id); got != 4000 {
		t.Fatalf("kept %d bytes, want 4000", got)
	}
}

func TestCloseInterruptsTransfersAndStopsServe(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(19, 1000)
	id := h.meta.add(1, data)
	c := h.dialRaw(t)
	c.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: h.s.UploadToken(1, id)})
	c.expectCode(protocol.CodeOK)
	c.Write(data[:10])
	waitPart(t, h.s, id, 10)
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	if err := <-h.serveErr; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	h.serveErr <- ErrServerClosed // for the harness cleanup
	if got := partSize(t, h.s, id); got != 10 {
		t.Fatalf("kept %d bytes, want 10", got)
	}
}

func TestShutdownWaitsForTransfers(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(20, 1000)
	id := h.meta.add(1, data)
	c := h.dialRaw(t)
	c.send(protocol.OpFileUpload, 1, &protocol.FileUploadReq{UploadToken: h.s.UploadToken(1, id)})
	c.expectCode(protocol.CodeOK)
	done := make(chan error, 1)
	go func() { done <- h.s.Shutdown(context.Background()) }()
	<-h.serveErr // the listener is closed first
	h.serveErr <- ErrServerClosed
	c.Write(data)
	c.expectCode(protocol.CodeOK)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !h.s.Complete(id) {
		t.Fatal("upload in progress at shutdown did not complete")
	}
}

func TestRateLimitCapsThroughput(t *testing.T) {
	const limit = 4 << 20 // bytes per second
	h := newHarness(t, func(c *Config) { c.RateLimit = limit })
	data := randBytes(21, 3<<20)
	start := time.Now()
	id := h.upload(t, 1, data)
	got := h.download(t, 2, id)
	elapsed := time.Since(start)
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	// 6 MiB through a 4 MiB/s bucket that starts full (rateBurst) cannot
	// take less than this, however fast the machine.
	if floor := time.Duration(float64(2*len(data)-rateBurst) / limit * float64(time.Second)); elapsed < floor {
		t.Fatalf("6 MiB moved in %v under a %d B/s cap; the cap allows no less than %v", elapsed, limit, floor)
	}
}

func TestOversizedPartRestartsFromZero(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(22, 5000)
	id := h.meta.add(1, data)
	// A part longer than the file can only be corrupt.
	if err := os.WriteFile(h.s.partPath(id), make([]byte, 6000), 0o600); err != nil {
		t.Fatal(err)
	}
	from, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, id), 6000, bytes.NewReader(data), 5000)
	if err != nil || from != 0 {
		t.Fatalf("from %d, %v; want a fresh upload from 0", from, err)
	}
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
}

// flakyListener fails its first Accepts the way a process out of file
// descriptors does.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestAcceptSurvivesEMFILE(t *testing.T) {
	meta := newMemMeta()
	s, err := New(Config{DataDir: t.TempDir(), Meta: meta, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln}
	fl.fails.Store(3)
	served := make(chan error, 1)
	go func() { served <- s.Serve(fl) }()
	data := randBytes(23, 1000)
	id := meta.add(1, data)
	if _, err := Upload(context.Background(), ln.Addr().String(), s.UploadToken(1, id), 0, bytes.NewReader(data), 1000); err != nil {
		t.Fatalf("upload after EMFILE: %v", err)
	}
	if fl.fails.Load() >= 0 {
		t.Fatal("the injected accept failures were not hit")
	}
	s.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// cancelAfter is a source that cancels its context once n bytes were read.
type cancelAfter struct {
	r      io.ReaderAt
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > c.n {
		c.cancel()
	}
	return c.r.ReadAt(p, off)
}

func TestUploadCancelledByClientKeepsBytes(t *testing.T) {
	h := newHarness(t, nil)
	data := randBytes(24, 16<<20)
	id := h.meta.add(1, data)
	ctx, cancel := context.WithCancel(context.Background())
	src := &cancelAfter{r: bytes.NewReader(data), n: 4 << 20, cancel: cancel}
	_, err := Upload(ctx, h.addr, h.s.UploadToken(1, id), 0, src, int64(len(data)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v, want context.Canceled", err)
	}
	h.waitIdle(t, id)
	held := partSize(t, h.s, id)
	if held == 0 || held == int64(len(data)) {
		t.Fatalf("server holds %d bytes after a cancel mid-transfer", held)
	}
	from, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, id), 0, bytes.NewReader(data), int64(len(data)))
	if err != nil || from != held {
		t.Fatalf("resume: from %d, %v; want %d", from, err, held)
	}
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
}

func TestDownloadOfLostOrDamagedBytes(t *testing.T) {
	h := newHarness(t, nil)
	a := h.upload(t, 1, randBytes(25, 1000))
	b := h.upload(t, 1, randBytes(26, 1000))
	if err := os.Remove(h.s.finalPath(a)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(h.s.finalPath(b), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, a), 0, io.Discard); codeOf(t, err) != protocol.CodeNotFound {
		t.Fatalf("bytes gone: %v, want NOT_FOUND", err)
	}
	if _, err := Download(context.Background(), h.addr, h.s.DownloadToken(2, b), 0, io.Discard); codeOf(t, err) != protocol.CodeInternal {
		t.Fatalf("bytes truncated: %v, want INTERNAL", err)
	}
	// A file marked complete whose bytes are gone cannot be re-uploaded
	// silently either.
	_, err := Upload(context.Background(), h.addr, h.s.UploadToken(1, a), 0, bytes.NewReader(nil), 1000)
	if codeOf(t, err) != protocol.CodeInternal {
		t.Fatalf("upload over lost bytes: %v, want INTERNAL", err)
	}
}

func TestListenAndServeReportsBadAddress(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), Meta: newMemMeta(), CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ListenAndServe("127.0.0.1:-1"); err == nil {
		t.Fatal("bad address accepted")
	}
}

func TestCanDownloadRefusesFormerMembers(t *testing.T) {
	var mu sync.Mutex
	allowed := map[int64]bool{2: true}
	h := newHarness(t, func(c *Config) {
		c.CanDownload = func(_ context.Context, user int64, f store.FileMeta) error {
			mu.Lock()
			defer mu.Unlock()
			if f.Conv != "p:1:2" {
				return errors.New("hook got the wrong file")
			}
			if !allowed[user] {
				return protocol.NewError(protocol.CodeForbidden, "not a member")
			}
			return nil
		}
	})
	data := randBytes(27, 1000)
	id := h.upload(t, 1, data)
	tok := h.s.DownloadToken(2, id)
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
	mu.Lock()
	allowed[2] = false
	mu.Unlock()
	if _, err := Download(context.Background(), h.addr, tok, 0, io.Discard); codeOf(t, err) != protocol.CodeForbidden {
		t.Fatalf("download after leaving: %v, want FORBIDDEN", err)
	}
}
