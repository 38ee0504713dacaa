package files

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// httpHarness is a harness with the HTTP handler served on loopback.
type httpHarness struct {
	*harness
	url string // base URL; files are url + "/" + id
}

func newHTTPHarness(t *testing.T) *httpHarness {
	t.Helper()
	h := newHarness(t, nil)
	srv := httptest.NewServer(h.s.HTTPHandler())
	t.Cleanup(srv.Close)
	return &httpHarness{harness: h, url: srv.URL}
}

func (h *httpHarness) do(t *testing.T, method string, id int64, token string, hdr map[string]string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, h.url+"/"+strconv.FormatInt(id, 10), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodHead || method == http.MethodPatch {
		req.Header.Set("Tus-Resumable", TusVersion)
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (h *httpHarness) patch(t *testing.T, id int64, token string, offset int64, body []byte) *http.Response {
	t.Helper()
	return h.do(t, http.MethodPatch, id, token, map[string]string{"Upload-Offset": strconv.FormatInt(offset, 10)}, body)
}

func (h *httpHarness) offset(t *testing.T, id int64, token string) int64 {
	t.Helper()
	resp := h.do(t, http.MethodHead, id, token, nil, nil)
	expectStatus(t, resp, http.StatusOK)
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("Upload-Offset %q: %v", resp.Header.Get("Upload-Offset"), err)
	}
	if got := resp.Header.Get("Upload-Length"); got != strconv.FormatInt(h.meta.get(id).Size, 10) {
		t.Fatalf("Upload-Length %q, want %d", got, h.meta.get(id).Size)
	}
	return n
}

func (h *httpHarness) get(t *testing.T, id int64, token string, hdr map[string]string) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/%d?token=%s", h.url, id, token), nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return req
	}())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func expectStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d (%s), want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, strings.TrimSpace(string(b)), want)
	}
}

func TestHTTPUploadInChunksThenDownloadWithRange(t *testing.T) {
	h := newHTTPHarness(t)
	data := randBytes(1, 300<<10)
	id := h.meta.add(7, data)
	tok := h.s.UploadToken(7, id)

	if got := h.offset(t, id, tok); got != 0 {
		t.Fatalf("fresh offset %d", got)
	}
	resp := h.patch(t, id, tok, 0, data[:100<<10])
	expectStatus(t, resp, http.StatusNoContent)
	if got := resp.Header.Get("Upload-Offset"); got != strconv.Itoa(100<<10) {
		t.Fatalf("Upload-Offset after chunk %q", got)
	}
	if got := h.offset(t, id, tok); got != 100<<10 {
		t.Fatalf("offset after chunk %d", got)
	}
	if h.completes.Load() != 0 {
		t.Fatal("announced before the last byte")
	}
	expectStatus(t, h.patch(t, id, tok, 100<<10, data[100<<10:]), http.StatusNoContent)
	if h.completes.Load() != 1 || h.meta.get(id).CompletedAt == 0 {
		t.Fatalf("completes %d, completed_at %d", h.completes.Load(), h.meta.get(id).CompletedAt)
	}
	// A repeated final PATCH (the reply was lost) learns the file is whole.
	if got := h.offset(t, id, tok); got != int64(len(data)) {
		t.Fatalf("offset of a complete file %d", got)
	}
	expectStatus(t, h.patch(t, id, tok, int64(len(data)), nil), http.StatusNoContent)

	dl := h.s.DownloadToken(9, id)
	resp = h.get(t, id, dl, nil)
	expectStatus(t, resp, http.StatusOK)
	if b, _ := io.ReadAll(resp.Body); !bytes.Equal(b, data) {
		t.Fatalf("download: %d bytes, differ from upload", len(b))
	}
	if resp.Header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers of a binary file: %v", resp.Header)
	}
	resp = h.get(t, id, dl, map[string]string{"Range": "bytes=1000-1999"})
	expectStatus(t, resp, http.StatusPartialContent)
	if b, _ := io.ReadAll(resp.Body); !bytes.Equal(b, data[1000:2000]) {
		t.Fatalf("range: %d bytes, differ", len(b))
	}
}

func TestHTTPUploadCutResumes(t *testing.T) {
	h := newHTTPHarness(t)
	data := randBytes(2, 200<<10)
	id := h.meta.add(7, data)
	tok := h.s.UploadToken(7, id)

	// Announce the whole file, send half, and drop the connection.
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "PATCH /%d HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n", id, tok, len(data))
	c.Write(data[:100<<10])
	// Cut only once the server holds some of it (it keeps whatever arrived).
	for deadline := time.Now().Add(10 * time.Second); partSizeOr0(h.s, id) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no byte arrived")
		}
	}
	c.Close()
	h.waitIdle(t, id)

	held := h.offset(t, id, tok)
	if held <= 0 || held > 100<<10 {
		t.Fatalf("held %d after the cut, want 1..%d", held, 100<<10)
	}
	expectStatus(t, h.patch(t, id, tok, 0, data), http.StatusConflict)
	expectStatus(t, h.patch(t, id, tok, held, data[held:]), http.StatusNoContent)
	if h.completes.Load() != 1 {
		t.Fatal("resumed upload not announced")
	}
	if got := h.download(t, 9, id); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs")
	}
}

func TestHTTPUploadChecksumMismatchDiscards(t *testing.T) {
	h := newHTTPHarness(t)
	data := randBytes(3, 10<<10)
	id := h.meta.add(7, data)
	tok := h.s.UploadToken(7, id)
	bad := append([]byte(nil), data...)
	bad[5] ^= 1
	expectStatus(t, h.patch(t, id, tok, 0, bad), http.StatusBadRequest)
	if got := h.offset(t, id, tok); got != 0 {
		t.Fatalf("offset after a mismatch %d, want 0", got)
	}
	if h.completes.Load() != 0 {
		t.Fatal("mismatched upload announced")
	}
	expectStatus(t, h.patch(t, id, tok, 0, data), http.StatusNoContent)
}

func TestHTTPTokens(t *testing.T) {
	h := newHTTPHarness(t)
	data := []byte("some bytes")
	id := h.upload(t, 7, data)
	other := h.meta.add(7, []byte("other bytes"))
	expired := h.s.signer.issueAt(PurposeUpload, 7, other, time.Now().Add(-time.Minute))
	forged := h.s.UploadToken(7, other)
	forged = forged[:len(forged)-2] + "AA"

	for _, c := range []struct {
		name  string
		token string
		want  int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"forged", forged, http.StatusUnauthorized},
		{"expired", expired, http.StatusUnauthorized},
		{"download token", h.s.DownloadToken(7, other), http.StatusForbidden},
		{"another file", h.s.UploadToken(7, id), http.StatusForbidden},
		{"not the owner", h.s.UploadToken(8, other), http.StatusForbidden},
	} {
		t.Run("upload "+c.name, func(t *testing.T) {
			expectStatus(t, h.do(t, http.MethodHead, other, c.token, nil, nil), c.want)
			expectStatus(t, h.patch(t, other, c.token, 0, []byte("other bytes")), c.want)
		})
	}
	for _, c := range []struct {
		name  string
		token string
		want  int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"forged", h.s.DownloadToken(7, id)[:10], http.StatusUnauthorized},
		{"expired", h.s.signer.issueAt(PurposeDownload, 7, id, time.Now().Add(-time.Minute)), http.StatusUnauthorized},
		{"upload token", h.s.UploadToken(7, id), http.StatusForbidden},
		{"another file", h.s.DownloadToken(7, other), http.StatusForbidden},
	} {
		t.Run("download "+c.name, func(t *testing.T) {
			expectStatus(t, h.get(t, id, c.token, nil), c.want)
		})
	}
	if h.completes.Load() != 1 {
		t.Fatalf("completes %d, want only the first upload", h.completes.Load())
	}
}

func TestHTTPDownloadChecksMembershipAndCompleteness(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.CanDownload = func(_ context.Context, user int64, _ store.FileMeta) error {
			if user != 9 {
				return protocol.NewError(protocol.CodeForbidden, "not a member")
			}
			return nil
		}
	})
	srv := httptest.NewServer(h.s.HTTPHandler())
	t.Cleanup(srv.Close)
	hh := &httpHarness{harness: h, url: srv.URL}
	id := h.upload(t, 7, []byte("x"))
	expectStatus(t, hh.get(t, id, h.s.DownloadToken(9, id), nil), http.StatusOK)
	expectStatus(t, hh.get(t, id, h.s.DownloadToken(10, id), nil), http.StatusForbidden)
	pending := h.meta.add(7, []byte("not yet"))
	expectStatus(t, hh.get(t, pending, h.s.DownloadToken(9, pending), nil), http.StatusNotFound)
}

func TestHTTPImagesInlineOthersSandboxedAttachments(t *testing.T) {
	h := newHTTPHarness(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	html := []byte("<html><script>alert(1)</script></html>")
	for _, c := range []struct {
		data        []byte
		ctype, disp string
	}{
		{png, "image/png", "inline"},
		{html, "application/octet-stream", "attachment"},
	} {
		id := h.upload(t, 7, c.data)
		resp := h.get(t, id, h.s.DownloadToken(7, id), nil)
		expectStatus(t, resp, http.StatusOK)
		hd := resp.Header
		if hd.Get("Content-Type") != c.ctype || !strings.HasPrefix(hd.Get("Content-Disposition"), c.disp) ||
			!strings.Contains(hd.Get("Content-Security-Policy"), "sandbox") || hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("headers for %s: %v", c.ctype, hd)
		}
	}
}

func TestHTTPTusRules(t *testing.T) {
	h := newHTTPHarness(t)
	data := []byte("twelve bytes")
	id := h.meta.add(7, data)
	tok := h.s.UploadToken(7, id)

	resp := h.do(t, http.MethodOptions, id, "", nil, nil)
	expectStatus(t, resp, http.StatusNoContent)
	if resp.Header.Get("Tus-Version") != TusVersion {
		t.Fatalf("OPTIONS headers %v", resp.Header)
	}
	expectStatus(t, h.do(t, http.MethodHead, id, tok, map[string]string{"Tus-Resumable": "0.2.2"}, nil), http.StatusPreconditionFailed)
	expectStatus(t, h.do(t, http.MethodPatch, id, tok, map[string]string{"Content-Type": "text/plain", "Upload-Offset": "0"}, data), http.StatusUnsupportedMediaType)
	expectStatus(t, h.do(t, http.MethodPatch, id, tok, nil, data), http.StatusBadRequest) // no Upload-Offset
	expectStatus(t, h.patch(t, id, tok, 3, data), http.StatusConflict)
	expectStatus(t, h.patch(t, id, tok, 0, append(data, '!')), http.StatusRequestEntityTooLarge)
	expectStatus(t, h.do(t, http.MethodPost, id, tok, nil, nil), http.StatusMethodNotAllowed)
	expectStatus(t, h.do(t, http.MethodGet, 0, "", nil, nil), http.StatusNotFound)

	// A raw request checks the handler survives a body that ends early
	// under chunked encoding: the chunk is kept and acknowledged.
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH /%d HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n%s\r\n0\r\n\r\n", id, tok, data[:5])
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Upload-Offset") != "5" {
		t.Fatalf("chunked PATCH: %d, offset %q", r.StatusCode, r.Header.Get("Upload-Offset"))
	}
}

func partSizeOr0(s *Server, id int64) int64 { return s.partSize(store.FileMeta{ID: id, Size: 1 << 62}) }
