package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/service/auth"
	"github.com/chatd/chatd/service/ratelimit"
	"github.com/chatd/chatd/store"
	"github.com/rs/zerolog"
)

// Server is the chat server: it owns the sessions, routing and business
// rules of the chat port. Create it with New, then Start; Shutdown stops it.
type Server struct {
	cfg   Config
	store store.Store
	log   zerolog.Logger

	// engine and addr are set once by Start; read through atomics because
	// the admin listener polls Ready and ReactorStats from its goroutines.
	engine atomic.Pointer[reactor.Engine]
	addr   atomic.Pointer[net.Addr]
	pool   *reactor.Pool

	router Router
	node   *cluster.Node // nil outside a cluster
	gate   *reorderGate  // the reorder gate; nil outside a cluster
	rooms  Rooms
	croom  *clusterRooms // rooms across nodes; nil outside a cluster
	groups *groupCache
	seq    *sequencer
	typing typingGate
	hasher *auth.Hasher

	userFails *ratelimit.Failures
	ipFails   *ratelimit.Failures

	ops map[protocol.Op]opEntry

	// ctx is the context of every store call; cancelled when Shutdown's
	// deadline passes.
	ctx    context.Context
	cancel context.CancelFunc

	started  atomic.Bool
	draining atomic.Bool
	// httpFiles is set once a web port moves file bytes (AnnounceWeb): the
	// login reply then lists the http_files feature.
	httpFiles atomic.Bool
	stopOnce  sync.Once
	serveErr  chan error

	dummyOnce sync.Once
	dummy     string
	dummyErr  error

	// now is the clock of the failed-login limiter (tests move it).
	now func() time.Time
	// testHook, when set by tests, runs before every pooled handler.
	testHook atomic.Pointer[func(op protocol.Op)]
}

// New checks cfg and builds a Server; nothing listens until Start.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if cfg.RequireTLS && cfg.TLS == nil {
		return nil, errRequireTLS
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		store:     cfg.Store,
		log:       cfg.Logger.With().Str("component", "service").Logger(),
		router:    newMemRouter(),
		rooms:     newMemRooms(cfg.RoomAnnounceMax, pushRoomCount),
		seq:       newSequencer(),
		hasher:    NewPasswordHasher(cfg),
		userFails: ratelimit.NewFailures(cfg.LoginFailuresPerUser, time.Minute, 0),
		ipFails:   ratelimit.NewFailures(cfg.LoginFailuresPerIP, time.Minute, 0),
		ctx:       ctx,
		cancel:    cancel,
		serveErr:  make(chan error, 1),
		now:       time.Now,
	}
	if cfg.clock != nil {
		s.now = cfg.clock
	}
	if cfg.Router != nil {
		s.router = cfg.Router
	}
	if cfg.Rooms != nil {
		s.rooms = cfg.Rooms
	}
	if cfg.Cluster != nil {
		s.node = cfg.Cluster
		s.router = clusterRouter{Router: s.router, node: s.node, held: newHeldPresence()}
		s.gate = newReorderGate(s)
		if mr, ok := s.rooms.(*memRooms); ok {
			s.croom = newClusterRooms(s, mr)
		}
	}
	s.groups = newGroupCache(s.store)
	if s.node != nil {
		s.groups.changed = func(id int64) { s.broadcast(s.ctx, busGroup, &busHeader{Group: id}) }
	}
	s.buildOps()
	return s, nil
}

// Start binds the chat listener and starts serving; it returns once
// listening.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	s.pool = reactor.NewPool(s.cfg.Workers, s.cfg.MaxPending)
	eng, err := reactor.New(s.transports(handler{s}), reactor.Options{
		Loops:          s.cfg.Loops,
		MaxOutbound:    s.cfg.MaxOutbound,
		CoalesceWindow: max(s.cfg.CoalesceWindow, 0),
		MaxInbound:     s.cfg.Limits.MaxFrameBody + protocol.HeaderSize + 64<<10,
	})
	if err != nil {
		s.pool.Close()
		return fmt.Errorf("service: start reactor: %w", err)
	}
	addr, err := eng.Listen("tcp", s.cfg.ChatAddr)
	if err != nil {
		_ = eng.Shutdown(context.Background())
		s.pool.Close()
		return fmt.Errorf("service: listen on %s: %w", s.cfg.ChatAddr, err)
	}
	if s.node != nil {
		if err := s.node.Attach(clusterHandler{s}); err != nil {
			_ = eng.Shutdown(context.Background())
			s.pool.Close()
			return fmt.Errorf("service: join the cluster: %w", err)
		}
		if s.croom != nil {
			s.croom.hello(s.ctx)
		}
	}
	s.addr.Store(&addr)
	s.engine.Store(eng)
	go func() { s.serveErr <- eng.Serve() }()
	go s.pruneSessions(time.Hour)
	s.log.Info().Str("addr", addr.String()).Msg("chat port listening")
	return nil
}

// ChatAddr returns the bound chat address (nil before Start).
func (s *Server) ChatAddr() net.Addr {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return nil
}

// Ready reports whether the server is started and not shutting down.
func (s *Server) Ready() bool { return s.engine.Load() != nil && !s.draining.Load() }

// ReactorStats returns the reactor's counters (zero before Start).
func (s *Server) ReactorStats() reactor.Stats {
	eng := s.engine.Load()
	if eng == nil {
		return reactor.Stats{}
	}
	return eng.Stats()
}

// Sessions returns the number of logged-in sessions now.
func (s *Server) Sessions() int { return s.router.Count() }

// Shutdown stops the server: new requests are answered UNAVAILABLE,
// requests already handed to the workers (in-flight sends included) finish
// and reply, queued output is flushed, connections are closed. It returns
// when all of that is done or ctx ends (then remaining store calls are
// cancelled and connections closed at once). It does not close the Store.
func (s *Server) Shutdown(ctx context.Context) error {
	eng := s.engine.Load()
	if eng == nil {
		return errors.New("service: not started")
	}
	var err error
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		// Let in-flight requests finish and write their replies.
		poolDone := make(chan struct{})
		go func() { s.pool.Close(); close(poolDone) }()
		select {
		case <-poolDone:
		case <-ctx.Done():
			s.cancel()
			err = fmt.Errorf("service: shutdown: waiting for in-flight requests: %w", ctx.Err())
		}
		// Flush queues and close every connection (bounded by ctx).
		if e := eng.Shutdown(ctx); e != nil && err == nil {
			err = fmt.Errorf("service: shutdown: %w", e)
		}
		s.cancel()
		select {
		case <-poolDone:
		case <-ctx.Done():
		}
		s.log.Info().Msg("chat server stopped")
	})
	return err
}

// pruneSessions deletes expired session tokens every interval until the
// server stops.
func (s *Server) pruneSessions(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			n, err := s.store.PruneSessions(s.ctx, time.Now().UnixMilli())
			if err != nil {
				s.log.Warn().Err(err).Msg("prune sessions")
				continue
			}
			if n > 0 {
				s.log.Info().Int64("deleted", n).Msg("pruned expired sessions")
			}
		}
	}
}

// async runs fn on the pool under key (for follow-up work of a close, which
// happens on a loop); when the pool refuses it the work is dropped and
// logged, never run on the loop.
func (s *Server) async(key uint64, what string, fn func()) {
	if err := s.pool.Submit(key, func() {
		defer func() {
			if r := recover(); r != nil {
				metricPanics.Inc()
				s.log.Error().Str("corr", newCorrID()).Str("task", what).Str("panic", fmt.Sprint(r)).Msg("background task panic")
			}
		}()
		fn()
	}); err != nil {
		ev := s.log.Warn()
		if s.draining.Load() {
			ev = s.log.Debug() // expected while shutting down
		}
		ev.Str("task", what).Err(err).Msg("background task dropped")
	}
}
