// Package web serves chatd's web port (sections 17 and 18 of the wire
// contract): the browser client built from web/ and embedded in the binary,
// /config.json telling the page where the chat port's WebSocket and the
// HTTP file endpoint are, and /files/ (the HTTP transfers of package
// files). Hashed assets are cached for a year, the page itself never; every
// response carries a strict Content-Security-Policy and the usual security
// headers. It knows nothing about chat: the handlers it mounts come from
// the caller.
package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	stdlog "log"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// dist is the client as built by `npm run build` in web/ (vite writes it
// here, and it is committed so that Go alone builds chatd).
//
//go:embed all:dist
var dist embed.FS

// Assets returns the embedded client.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return sub
}

// Config configures the web port's handler.
type Config struct {
	// Files serves /files/{file_id} (mounted with the /files prefix
	// stripped); nil leaves file_url empty and /files/ unserved.
	Files http.Handler
	// ChatPort is the chat port the page's WebSocket connects to, on the
	// host the browser reached the web port at.
	ChatPort string
	// ChatTLS makes ws_url wss:// even for a page served over plain HTTP
	// (the chat port requires TLS). A page served over HTTPS always gets
	// wss://.
	ChatTLS bool
	// WSURL, when set, is announced as ws_url as it is (a proxy in front,
	// say) instead of one made from the request's host and ChatPort.
	WSURL string
	// Version is the build's version, announced in /config.json.
	Version string
	// Assets is the client to serve (Assets() when nil).
	Assets fs.FS
}

// ClientConfig is the body of /config.json.
type ClientConfig struct {
	WSURL   string `json:"ws_url"`
	FileURL string `json:"file_url"`
	Version string `json:"version"`
}

// handler serves the web port.
type handler struct {
	cfg    Config
	assets map[string]*asset // by path without the leading slash
	files  http.Handler
}

// asset is one file of the client, with its gzip form when that is
// smaller.
type asset struct {
	body, gz []byte
	ctype    string
	cache    string
	etag     string
}

// immutableCache is for files whose names carry their content hash.
const immutableCache = "public, max-age=31536000, immutable"

// NewHandler loads the client's files into memory (compressing the text
// ones once) and returns the web port's handler.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Assets == nil {
		cfg.Assets = Assets()
	}
	h := &handler{cfg: cfg, assets: map[string]*asset{}}
	if cfg.Files != nil {
		h.files = http.StripPrefix("/files", cfg.Files)
	}
	err := fs.WalkDir(cfg.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(cfg.Assets, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{body: body, ctype: mime.TypeByExtension(path.Ext(p)), cache: "no-cache",
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if a.ctype == "" {
			a.ctype = http.DetectContentType(body)
		}
		// Vite names everything under assets/ by content hash.
		if strings.HasPrefix(p, "assets/") {
			a.cache = immutableCache
		}
		if compressible(a.ctype) {
			a.gz = gzipped(body)
		}
		h.assets[p] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: load client: %w", err)
	}
	if h.assets["index.html"] == nil {
		return nil, errors.New("web: the client has no index.html (run npm run build in web/)")
	}
	return h, nil
}

func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "image/svg+xml", "application/manifest+json"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.securityHeaders(w, r)
	switch {
	case r.URL.Path == "/config.json":
		h.serveConfig(w, r)
	case strings.HasPrefix(r.URL.Path, "/files/") && h.files != nil:
		h.files.ServeHTTP(w, r)
	default:
		h.serveAsset(w, r)
	}
}

// securityHeaders sets the headers every response carries. The policy
// allows scripts and styles of this origin only (no inline code, no eval),
// images from here and from blob:/data: URLs the client makes itself
// (thumbnails, video frames, avatars), and connections to this origin and
// to the chat port's WebSocket.
func (h *handler) securityHeaders(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	ws := h.wsURL(r)
	connect := "'self'"
	if origin := wsOrigin(ws); origin != "" {
		connect += " " + origin
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' blob: data:; media-src 'self' blob:; font-src 'self'; manifest-src 'self'; "+
		"connect-src "+connect+"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// wsOrigin returns scheme://host:port of a WebSocket URL, "" when it does
// not parse.
func wsOrigin(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// wsURL is the WebSocket URL of the chat port as the browser that sent r
// should reach it: the host it used for the page, the chat port, /ws.
func (h *handler) wsURL(r *http.Request) string {
	if h.cfg.WSURL != "" {
		return h.cfg.WSURL
	}
	scheme := "ws"
	if r.TLS != nil || h.cfg.ChatTLS {
		scheme = "wss"
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil { // no port: the scheme's default
		host = strings.Trim(r.Host, "[]")
	}
	return scheme + "://" + net.JoinHostPort(host, h.cfg.ChatPort) + "/ws"
}

func (h *handler) serveConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	cc := ClientConfig{WSURL: h.wsURL(r), Version: h.cfg.Version}
	if h.files != nil {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		cc.FileURL = scheme + "://" + r.Host + "/files"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(cc)
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" {
		p = "index.html"
	}
	a := h.assets[p]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", a.cache)
	body, etag := a.body, a.etag
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			body, etag = a.gz, strings.TrimSuffix(etag, `"`)+`-gz"`
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request allows a gzip response (listed
// in Accept-Encoding without q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		_, q, ok := strings.Cut(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}

// Server is a running web port.
type Server struct {
	http *http.Server
	ln   net.Listener
	done chan error
	log  zerolog.Logger
}

// Listen serves h on addr, over TLS when tlsConfig is not nil.
func Listen(addr string, h http.Handler, tlsConfig *tls.Config, log zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen %s: %w", addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	wlog := log.With().Str("component", "web").Logger()
	s := &Server{
		http: &http.Server{
			Handler: h,
			// net/http's own complaints (failed TLS handshakes from
			// scanners, plain HTTP sent to the HTTPS port) are debug
			// lines in chatd's log, not stray text on stderr.
			ErrorLog:          stdlog.New(debugWriter{wlog}, "", 0),
			ReadHeaderTimeout: 10 * time.Second,
			// No ReadTimeout or WriteTimeout: uploads and downloads are
			// long; the file handler moves its own deadlines as bytes flow.
			IdleTimeout:    2 * time.Minute,
			MaxHeaderBytes: 64 << 10,
		},
		ln:   ln,
		done: make(chan error, 1),
		log:  wlog,
	}
	go func() { s.done <- s.http.Serve(ln) }()
	s.log.Info().Str("addr", ln.Addr().String()).Bool("tls", tlsConfig != nil).Msg("web port listening")
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops accepting and waits for requests in progress until ctx
// ends, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close stops the web port at once.
func (s *Server) Close() error {
	err := s.http.Close()
	<-s.done
	return err
}

// debugWriter turns net/http's error log lines into debug log records.
type debugWriter struct{ log zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
