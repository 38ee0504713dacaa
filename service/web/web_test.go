package web

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rs/zerolog"
)

var testAssets = fstest.MapFS{
	"index.html":              {Data: []byte(`<!doctype html><script type="module" src="/assets/index-AbC123.js"></script>`)},
	"assets/index-AbC123.js":  {Data: []byte(strings.Repeat("console.log('chatd');\n", 200))},
	"assets/index-Def456.css": {Data: []byte("body{margin:0}")},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
}

func newTestHandler(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	if cfg.Assets == nil {
		cfg.Assets = testAssets
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestCachingAndCompression(t *testing.T) {
	h := newTestHandler(t, Config{ChatPort: "9000"})
	for _, c := range []struct {
		path, ctype, cache string
	}{
		{"/", "text/html; charset=utf-8", "no-cache"},
		{"/index.html", "text/html; charset=utf-8", "no-cache"},
		{"/assets/index-AbC123.js", "text/javascript; charset=utf-8", immutableCache},
		{"/assets/index-Def456.css", "text/css; charset=utf-8", immutableCache},
		{"/favicon.svg", "image/svg+xml", "no-cache"},
	} {
		resp := get(t, h, c.path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.ctype || resp.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s: %d, type %q, cache %q; want type %q cache %q", c.path, resp.StatusCode,
				resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), c.ctype, c.cache)
		}
	}
	plain := get(t, h, "/assets/index-AbC123.js", nil)
	body, _ := io.ReadAll(plain.Body)
	if plain.Header.Get("Content-Encoding") != "" || string(body) != string(testAssets["assets/index-AbC123.js"].Data) {
		t.Fatalf("uncompressed request got encoding %q", plain.Header.Get("Content-Encoding"))
	}
	gz := get(t, h, "/assets/index-AbC123.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip request: headers %v", gz.Header)
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if unz, _ := io.ReadAll(zr); string(unz) != string(body) {
		t.Fatal("gzip body differs")
	}
	if get(t, h, "/assets/index-AbC123.js", map[string]string{"Accept-Encoding": "gzip;q=0"}).Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 got gzip")
	}
	etag := plain.Header.Get("ETag")
	if resp := get(t, h, "/assets/index-AbC123.js", map[string]string{"If-None-Match": etag}); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation with ETag %q: %d", etag, resp.StatusCode)
	}
	if resp := get(t, h, "/nope.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := newTestHandler(t, Config{ChatPort: "9000"})
	for _, p := range []string{"/", "/assets/index-AbC123.js", "/config.json", "/missing"} {
		resp := get(t, h, p, nil)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'",
			"connect-src 'self' ws://example.com:9000;"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe sources: %q", p, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin"} {
			if resp.Header.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", p, k, resp.Header.Get(k), v)
			}
		}
	}
}

func TestConfigJSON(t *testing.T) {
	files := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "file "+r.URL.Path) })
	for _, c := range []struct {
		name string
		cfg  Config
		host string
		want ClientConfig
	}{
		{"names the host the browser used", Config{ChatPort: "9000", Files: files, Version: "v1.2"}, "chat.example:8080",
			ClientConfig{WSURL: "ws://chat.example:9000/ws", FileURL: "http://chat.example:8080/files", Version: "v1.2"}},
		{"IPv6 host", Config{ChatPort: "9000", Files: files}, "[::1]:8080",
			ClientConfig{WSURL: "ws://[::1]:9000/ws", FileURL: "http://[::1]:8080/files"}},
		{"chat port needs TLS", Config{ChatPort: "443", ChatTLS: true}, "chat.example",
			ClientConfig{WSURL: "wss://chat.example:443/ws"}},
		{"explicit URL", Config{WSURL: "wss://proxy.example/ws", ChatPort: "9000"}, "x:1",
			ClientConfig{WSURL: "wss://proxy.example/ws"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newTestHandler(t, c.cfg)
			req := httptest.NewRequest(http.MethodGet, "/config.json", nil)
			req.Host = c.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var got ClientConfig
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got != c.want || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("got %+v (cache %q), want %+v", got, rec.Header().Get("Cache-Control"), c.want)
			}
			if !strings.Contains(rec.Header().Get("Content-Security-Policy"), wsOrigin(c.want.WSURL)+";") {
				t.Fatalf("CSP %q does not allow %s", rec.Header().Get("Content-Security-Policy"), c.want.WSURL)
			}
		})
	}
	h := newTestHandler(t, Config{ChatPort: "9000", Files: files})
	resp := get(t, h, "/files/42?token=t", nil)
	if b, _ := io.ReadAll(resp.Body); string(b) != "file /42" {
		t.Fatalf("/files/ not handed to the file handler with the prefix stripped: %q", b)
	}
}

func TestEmbeddedClientServes(t *testing.T) {
	h, err := NewHandler(Config{ChatPort: "9000"})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, "/", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<!doctype html>") {
		t.Fatalf("embedded index: %d %q", resp.StatusCode, body)
	}
}

func TestListenServesAndShutsDown(t *testing.T) {
	h := newTestHandler(t, Config{ChatPort: "9000"})
	s, err := Listen("127.0.0.1:0", h, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr().String() + "/"); err == nil {
		t.Fatal("still serving after Shutdown")
	}
}

func TestMissingIndexIsAnError(t *testing.T) {
	if _, err := NewHandler(Config{Assets: fstest.MapFS{"a.js": {Data: []byte("x")}}}); err == nil {
		t.Fatal("a client without index.html was accepted")
	}
}
