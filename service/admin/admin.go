package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/reactor"
)

// Source is what the admin listener reads from the chat server;
// *service.Server implements it.
type Source interface {
	// Ready reports whether the server is started and not shutting down.
	Ready() bool
	// ReactorStats returns the event-loop counters.
	ReactorStats() reactor.Stats
	// Sessions returns the number of logged-in sessions now.
	Sessions() int
}

// sessionsMetric is the gauge of sessions online; it is written from
// Source.Sessions only when the service has not registered it itself, so
// the exposition never holds a name twice.
const sessionsMetric = "chatd_sessions"

// Handler returns the admin HTTP handler: /metrics, /healthz, /readyz and
// /debug/pprof/.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		WriteMetrics(w, src)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !src.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	// Registered on this mux, not http.DefaultServeMux, so importing
	// net/http/pprof exposes nothing on any other listener.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// WriteMetrics writes the Prometheus text exposition: the default metrics
// set with process metrics, the reactor counters and the sessions gauge.
func WriteMetrics(w io.Writer, src Source) {
	metrics.WritePrometheus(w, true)
	st := src.ReactorStats()
	metrics.WriteGaugeUint64(w, "chatd_reactor_connections", st.Conns)
	metrics.WriteGaugeUint64(w, "chatd_reactor_queued_bytes", st.QueuedBytes)
	metrics.WriteCounterUint64(w, "chatd_reactor_accepted_total", st.Accepted)
	metrics.WriteCounterUint64(w, "chatd_reactor_closed_total", st.Closed)
	metrics.WriteCounterUint64(w, "chatd_reactor_bytes_in_total", st.BytesIn)
	metrics.WriteCounterUint64(w, "chatd_reactor_bytes_out_total", st.BytesOut)
	metrics.WriteCounterUint64(w, "chatd_reactor_writev_total", st.Writev)
	metrics.WriteCounterUint64(w, "chatd_reactor_eagain_total", st.EAGAIN)
	metrics.WriteCounterUint64(w, "chatd_reactor_dropped_lossy_total", st.DroppedLossy)
	metrics.WriteCounterUint64(w, "chatd_reactor_wakeups_total", st.Wakeups)
	if !slices.Contains(metrics.ListMetricNames(), sessionsMetric) {
		n := max(src.Sessions(), 0)
		metrics.WriteGaugeUint64(w, sessionsMetric, uint64(n))
	}
}

// Server is a running admin listener.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	err  error // serve's result, valid after done is closed
}

// Listen binds addr (e.g. "127.0.0.1:9090") and serves Handler(src) in a
// background goroutine until Shutdown or Close.
func Listen(addr string, src Source, log zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %q: %w", addr, err)
	}
	log = log.With().Str("component", "admin").Logger()
	s := &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           Handler(src),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// No WriteTimeout: /debug/pprof/profile and trace stream for
			// as long as asked (30 s by default).
			ErrorLog: stdlog.New(log, "", 0),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("admin: serve: %w", err)
			log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops accepting and waits, until ctx ends, for requests in
// progress to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	<-s.done
	return s.err
}

// Close stops the listener and closes every connection at once.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("admin: close: %w", err)
	}
	<-s.done
	return s.err
}
