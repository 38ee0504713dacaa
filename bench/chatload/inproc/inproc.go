package inproc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/admin"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/store"
)

// Options tune the in-process chatd.
type Options struct {
	// RealPasswordHash keeps the production argon2id cost (m=19 MiB, t=2);
	// otherwise a cheap setting makes registering many users fast. The
	// login scenario must keep the real cost: it measures it.
	RealPasswordHash bool
	// Loops is the number of event loops (0: GOMAXPROCS).
	Loops int
	// Logger receives chatd's own logs (warnings and worse are useful).
	Logger zerolog.Logger
	// TLS, when set, makes the chat port also serve TLS (and WebSocket
	// inside it), for the transports chatbench can drive.
	TLS *tls.Config
}

// Server is a running in-process chatd.
type Server struct {
	// Addr is the chat port, AdminURL the admin base URL.
	Addr     string
	AdminURL string
	// FileAddr is the file port.
	FileAddr string

	dir   string
	st    store.Store
	srv   *service.Server
	fsvc  *service.FileService
	adm   *admin.Server
	start time.Time
}

// cheapArgon2 is the cheapest setting argon2id accepts, for setup-heavy
// scenarios that do not measure password hashing.
var cheapArgon2 = service.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// Start starts a chatd on 127.0.0.1 with random ports. The message rate
// limit is lifted (a load test sends faster than a person); every other
// setting is the server's default.
func Start(ctx context.Context, opts Options) (s *Server, err error) {
	dir, err := os.MkdirTemp("", "chatbench-*")
	if err != nil {
		return nil, fmt.Errorf("temp data dir: %w", err)
	}
	s = &Server{dir: dir, start: time.Now()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.st, err = store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	cfg := service.Config{
		ChatAddr: "127.0.0.1:0",
		FileAddr: "127.0.0.1:0",
		Store:    s.st,
		MsgRate:  math.MaxInt32,
		MsgBurst: math.MaxInt32,
		Loops:    opts.Loops,
		Logger:   opts.Logger,
		Version:  "chatbench-inprocess",
		TLS:      opts.TLS,
	}
	if !opts.RealPasswordHash {
		cfg.Argon2 = cheapArgon2
	}
	s.srv, err = service.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure chatd: %w", err)
	}
	s.fsvc, err = s.srv.EnableFiles(files.Config{DataDir: dir})
	if err != nil {
		return nil, fmt.Errorf("enable file port: %w", err)
	}
	s.FileAddr = s.fsvc.Addr().String()
	if err := s.srv.Start(); err != nil {
		return nil, fmt.Errorf("start chatd: %w", err)
	}
	s.Addr = s.srv.ChatAddr().String()
	s.adm, err = admin.Listen(admin.Config{
		Addr:       "127.0.0.1:0",
		Checks:     []admin.Check{admin.Ready("service", s.srv.Ready)},
		Collectors: []prometheus.Collector{s.srv.MetricsCollector()},
		Logger:     opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start admin listener: %w", err)
	}
	s.AdminURL = "http://" + s.adm.Addr().String()
	return s, nil
}

// Close shuts everything down and removes the data directory.
func (s *Server) Close() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if s.srv != nil && s.srv.ChatAddr() != nil {
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("chatd shutdown: %w", err))
		}
	}
	if s.fsvc != nil {
		if err := s.fsvc.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("file port shutdown: %w", err))
		}
	}
	if s.st != nil {
		if err := s.st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	if s.adm != nil {
		s.adm.Close()
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}
