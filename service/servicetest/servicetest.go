package servicetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/store"
)

// CheapArgon2 is the password hashing cost used by test servers: the
// smallest argon2id setting, so that tests register users quickly.
var CheapArgon2 = service.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// shutdownTimeout bounds how long cleanup waits for the server to stop.
const shutdownTimeout = 10 * time.Second

// Server is a running in-process chatd.
type Server struct {
	// Server is the chat server itself.
	*service.Server
	// Store is the database the server uses.
	Store store.Store
	// Files is the file port, nil unless WithFiles was given.
	Files *service.FileService
	// ChatAddr is the bound chat address ("127.0.0.1:port").
	ChatAddr string
	// FileAddr is the bound file address, "" without WithFiles.
	FileAddr string

	tb   testing.TB
	stop sync.Once
}

// Option changes how Start configures the server.
type Option func(*settings)

type settings struct {
	chatAddr string
	files    bool
	store    store.Store
	level    zerolog.Level
	tune     []func(*service.Config)
}

// WithFiles enables the file port on a free loopback port, storing files
// in a temporary directory.
func WithFiles() Option { return func(s *settings) { s.files = true } }

// WithChatAddr listens on addr instead of a free loopback port (a server
// restarted on the address of the one before).
func WithChatAddr(addr string) Option { return func(s *settings) { s.chatAddr = addr } }

// WithStore runs the server on st instead of a fresh store; the caller
// owns st and closes it (a store shared by successive servers).
func WithStore(st store.Store) Option { return func(s *settings) { s.store = st } }

// WithLogLevel sets the level of the server log, which goes to the test
// log; the default is zerolog.ErrorLevel.
func WithLogLevel(l zerolog.Level) Option { return func(s *settings) { s.level = l } }

// WithConfig lets the test change the service configuration after the
// test defaults are set (rate limits, worker count, logger).
func WithConfig(f func(*service.Config)) Option {
	return func(s *settings) { s.tune = append(s.tune, f) }
}

// OpenStore opens a fresh SQLite store in a temporary directory and
// closes it when the test ends.
func OpenStore(tb testing.TB) store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), store.Config{Driver: "sqlite", DataDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("servicetest: open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("servicetest: close store: %v", err)
		}
	})
	return st
}

// Start runs a chatd with one reactor loop and 16 store workers on a
// free loopback port and stops it when the test ends (or earlier through
// Stop). Any failure to start ends the test.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	set := settings{chatAddr: "127.0.0.1:0", level: zerolog.ErrorLevel}
	for _, o := range opts {
		o(&set)
	}
	st := set.store
	if st == nil {
		// Registered before the server's cleanup, so it runs after it.
		st = OpenStore(tb)
	}
	cfg := service.Config{
		ChatAddr: set.chatAddr, FileAddr: "127.0.0.1:0", Store: st, Loops: 1, Workers: 16,
		Argon2: CheapArgon2,
		Logger: zerolog.New(zerolog.NewTestWriter(tb)).Level(set.level),
	}
	for _, f := range set.tune {
		f(&cfg)
	}
	srv, err := service.New(cfg)
	if err != nil {
		tb.Fatalf("servicetest: new server: %v", err)
	}
	s := &Server{Server: srv, Store: st, tb: tb}
	if set.files {
		s.Files, err = srv.EnableFiles(files.Config{DataDir: tb.TempDir()})
		if err != nil {
			tb.Fatalf("servicetest: enable files: %v", err)
		}
		s.FileAddr = s.Files.Addr().String()
	}
	if err := srv.Start(); err != nil {
		if s.Files != nil {
			_ = s.Files.Shutdown(context.Background())
		}
		tb.Fatalf("servicetest: start: %v", err)
	}
	s.ChatAddr = srv.ChatAddr().String()
	tb.Cleanup(s.Stop)
	return s
}

// Stop shuts the chat server down, then the file port (the order
// EnableFiles asks for); a failure fails the test. Later calls do
// nothing, so a test may stop a server early and restart another on
// its address and store.
func (s *Server) Stop() {
	s.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.Server.Shutdown(ctx); err != nil {
			s.tb.Errorf("servicetest: shutdown: %v", err)
		}
		if s.Files != nil {
			if err := s.Files.Shutdown(ctx); err != nil {
				s.tb.Errorf("servicetest: shutdown files: %v", err)
			}
		}
	})
}
