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
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Check is one readiness condition: Run returns nil while what Name stands
// for (the chat service, the store, the cluster bus) can take work.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Ready turns a flag such as (*service.Server).Ready into a Check.
func Ready(name string, ready func() bool) Check {
	return Check{Name: name, Run: func(context.Context) error {
		if !ready() {
			return errNotReady
		}
		return nil
	}}
}

var errNotReady = errors.New("not ready")

// DefaultCheckTimeout bounds one /readyz answer when Config.CheckTimeout is
// zero: well inside the usual probe timeouts of load balancers and
// orchestrators.
const DefaultCheckTimeout = 2 * time.Second

// Config is what the admin listener serves.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:9090" (Listen only).
	Addr string
	// Checks must all pass for /readyz to answer 200. They run at once,
	// each with a context that ends after CheckTimeout; a check still
	// running then counts as failed.
	Checks       []Check
	CheckTimeout time.Duration
	// Collectors are exposed on /metrics beside client_golang's default
	// registry (where the service's metrics and the Go and process
	// collectors live): per-instance ones such as the server's event-loop
	// counters and BuildInfo.
	Collectors []prometheus.Collector
	// Accounts, when set, serves POST /accounts/{id}/enforce and
	// /accounts/{id}/deleted (see AccountEnforcer).
	Accounts AccountEnforcer
	Logger   zerolog.Logger
}

// BuildInfo returns the constant chatd_build_info{version,commit,go} 1,
// the usual way to let dashboards show and join on what is running.
func BuildInfo(version, commit string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "chatd_build_info",
		Help:        "Always 1; its labels say which chatd build is running.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "go": runtime.Version()},
	}, func() float64 { return 1 })
}

// Handler returns the admin HTTP handler: /metrics, /healthz, /readyz,
// /debug/pprof/ and, with Config.Accounts, POST /accounts/{id}/enforce and
// /accounts/{id}/deleted. It
// fails when two collectors expose the same series.
func Handler(cfg Config) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range cfg.Collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("admin: register collector: %w", err)
		}
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(
		prometheus.Gatherers{prometheus.DefaultGatherer, reg},
		promhttp.HandlerOpts{ErrorLog: stdlog.New(cfg.Logger, "", 0), ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if failed := runChecks(r.Context(), cfg.Checks, cfg.CheckTimeout); failed != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready\n"+failed)
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
	handleAccounts(mux, cfg.Accounts)
	return mux, nil
}

// runChecks runs every check at once and returns one "name: error" line per
// failure, "" when all passed. It returns by the timeout even if a check
// ignores its context (that check's goroutine ends when the check does).
func runChecks(ctx context.Context, checks []Check, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	results := make([]chan error, len(checks))
	for i, c := range checks {
		results[i] = make(chan error, 1)
		go func() { results[i] <- c.Run(ctx) }()
	}
	var b strings.Builder
	for i, c := range checks {
		var err error
		select {
		case err = <-results[i]:
		case <-ctx.Done():
			select { // a result that raced the deadline still counts
			case err = <-results[i]:
			default:
				err = fmt.Errorf("no answer within %v", timeout)
			}
		}
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", c.Name, err)
		}
	}
	return b.String()
}

// Server is a running admin listener.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	err  error // serve's result, valid after done is closed
}

// Listen binds cfg.Addr and serves Handler(cfg) in a background goroutine
// until Shutdown or Close.
func Listen(cfg Config) (*Server, error) {
	cfg.Logger = cfg.Logger.With().Str("component", "admin").Logger()
	h, err := Handler(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %q: %w", cfg.Addr, err)
	}
	s := &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// No WriteTimeout: /debug/pprof/profile and trace stream for
			// as long as asked (30 s by default).
			ErrorLog: stdlog.New(cfg.Logger, "", 0),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("admin: serve: %w", err)
			cfg.Logger.Error().Err(err).Msg("admin listener stopped")
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
