package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/admin"
	"github.com/chatd/chatd/service/discovery"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/service/web"
	"github.com/chatd/chatd/store"
)

// listening is where a started chatd serves; empty fields are disabled.
type listening struct {
	Chat      net.Addr
	File      net.Addr
	Discovery net.Addr
	Admin     net.Addr
	Web       net.Addr
	Store     string // a description without credentials
	TLS       bool   // a certificate is configured: the web port speaks HTTPS
}

// serviceConfig maps the settings to the chat service's.
func serviceConfig(cfg config, st store.Store, log zerolog.Logger, ver string) service.Config {
	limits := protocol.DefaultLimits()
	limits.MaxFrameBody = int(cfg.MaxFrame)
	limits.MaxFileSize = cfg.MaxFileSize
	return service.Config{
		ChatAddr:             cfg.ChatAddr,
		FileAddr:             cfg.FileAddr,
		Store:                st,
		Limits:               limits,
		IdleTimeout:          cfg.IdleTimeout,
		LoginFailuresPerUser: cfg.LoginFailuresPerUser,
		LoginFailuresPerIP:   cfg.LoginFailuresPerIP,
		MsgRate:              cfg.MsgRate,
		MsgBurst:             cfg.MsgBurst,
		MaxOutbound:          int(cfg.OutboundQueue),
		Loops:                cfg.Loops,
		CoalesceWindow:       coalesceWindow(cfg.CoalesceWindow),
		Workers:              cfg.Workers,
		Argon2:               service.Argon2Params{MemoryKiB: uint32(cfg.Argon2Memory >> 10), Time: uint32(cfg.Argon2Time)},
		ServerName:           cfg.Name,
		Version:              ver,
		Logger:               log,
		RequireTLS:           cfg.TLSRequired,
		WSOrigins:            wsOrigins(cfg.WSOrigins),
	}
}

// serve starts the store, the chat service with its file port, and the side
// listeners, waits for ctx to end, then shuts everything down in order:
// discovery first (stop announcing), then the chat service (UNAVAILABLE for
// new requests, in-flight work answered), then the file port (transfers get
// what is left of the deadline), then the store, and the admin listener
// last so /readyz reports 503 while the rest drains.
func serve(ctx context.Context, cfg config, log zerolog.Logger, env runEnv) (err error) {
	ver := readBuildInfo().Version
	// Compile the JSON codecs (about 0.4 s of CPU here) in the background
	// rather than on each op's first request, without delaying start-up.
	go func() {
		pt := time.Now()
		if err := protocol.Pretouch(); err != nil {
			log.Warn().Err(err).Msg("JSON codec pretouch failed; codecs compile on first use")
			return
		}
		log.Debug().Dur("took_ms", time.Since(pt)).Msg("JSON codecs compiled")
	}()
	var closers []func() error // undone in reverse on a failed start
	defer func() {
		if err == nil {
			return
		}
		for i := len(closers) - 1; i >= 0; i-- {
			if cerr := closers[i](); cerr != nil {
				log.Warn().Err(cerr).Msg("cleanup after failed start")
			}
		}
		if ctx.Err() != nil {
			// A signal during start-up is a request to stop, not a failure.
			log.Info().AnErr("start", err).Msg("start-up interrupted; stopped")
			err = nil
		}
	}()

	// Before anything else writes there: a second chatd on the same
	// directory, or one that cannot write it, must not start.
	release, err := claimDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	closers = append(closers, release)

	sc := storeConfig(cfg)
	// Batch sizes and commit times feed the admin /metrics.
	sc.OnBatch = service.ObserveStoreBatch
	st, err := store.Open(ctx, sc)
	if err != nil {
		return fmt.Errorf("open store %s: %w", describeStore(cfg), err)
	}
	closers = append(closers, st.Close)

	var node *cluster.Node
	if cfg.ClusterNATS != "" {
		if node, err = joinCluster(ctx, cfg, log); err != nil {
			return err
		}
		closers = append(closers, node.Close)
	}

	scfg := serviceConfig(cfg, st, log, ver)
	scfg.Cluster = node
	if scfg.TLS, err = loadTLS(ctx, cfg, log); err != nil {
		return err
	}
	srv, err := service.New(scfg)
	if err != nil {
		return fmt.Errorf("configure service: %w", err)
	}
	// The file port is attached before Start and stopped after the chat
	// server, as the service asks.
	fsvc, err := srv.EnableFiles(filesConfig(cfg))
	if err != nil {
		return fmt.Errorf("start file port on %s: %w%s", cfg.FileAddr, err, portHint(err))
	}
	closers = append(closers, func() error {
		fctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return fsvc.Shutdown(fctx)
	})
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start chat listener on %s: %w%s", cfg.ChatAddr, err, portHint(err))
	}
	closers = append(closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	at := listening{Chat: srv.ChatAddr(), File: fsvc.Addr(), Store: describeStore(cfg), TLS: scfg.TLS != nil}

	var disc *discovery.Responder
	if cfg.DiscoveryAddr != "" {
		disc, err = discovery.Listen(discovery.Config{
			Addr:    cfg.DiscoveryAddr,
			Name:    cfg.Name,
			Version: ver,
			// The bound address, so a :0 chat port is announced as the
			// real one; its unspecified host becomes the requester's route.
			ChatAddr: srv.ChatAddr().String(),
			FileAddr: fsvc.Addr().String(),
			Logger:   log,
		})
		if err != nil {
			return fmt.Errorf("start discovery: %w", err)
		}
		closers = append(closers, disc.Close)
		at.Discovery = disc.Addr()
	}

	var webSrv *web.Server
	if cfg.WebAddr != "" {
		webSrv, err = startWeb(cfg.WebAddr, srv.ChatAddr(), fsvc, ver, scfg.TLS, cfg.TLSRequired, log)
		if err != nil {
			return err
		}
		closers = append(closers, webSrv.Close)
		at.Web = webSrv.Addr()
	}

	var adm *admin.Server
	if cfg.AdminAddr != "" {
		checks := []admin.Check{admin.Ready("service", srv.Ready), {Name: "store", Run: st.Ping}}
		if node != nil {
			checks = append(checks, admin.Check{Name: "bus", Run: node.Check})
		}
		bi := readBuildInfo()
		adm, err = admin.Listen(admin.Config{
			Addr: cfg.AdminAddr,
			// The store check is what tells a balancer that the database
			// is down; cluster mode adds the bus.
			Checks:     checks,
			Collectors: []prometheus.Collector{srv.MetricsCollector(), admin.BuildInfo(bi.Version, bi.Commit)},
			// chatd user disable tells a running chatd through it.
			Accounts: srv,
			Logger:   log,
		})
		if err != nil {
			return fmt.Errorf("start admin listener: %w", err)
		}
		closers = append(closers, adm.Close)
		at.Admin = adm.Addr()
		if ta, ok := at.Admin.(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
			log.Warn().Stringer("admin", at.Admin).Msg("admin listener reachable beyond loopback: /metrics and /debug/pprof have no authentication")
		}
	}

	printListening(env.Stdout, ver, at)
	log.Info().
		Stringer("chat", at.Chat).
		Stringer("file", at.File).
		Str("discovery", addrString(at.Discovery)).
		Str("admin", addrString(at.Admin)).
		Str("web", addrString(at.Web)).
		Str("store", at.Store).
		Str("version", ver).
		Msg("chatd serving")
	if env.OnReady != nil {
		env.OnReady(at)
	}

	<-ctx.Done()
	log.Info().Dur("timeout_ms", cfg.ShutdownTimeout).Msg("shutting down")
	// A watchdog: a shutdown step that ignores its deadline (a wedged
	// database close, say) must not keep the process from exiting.
	done := make(chan error, 1)
	r := running{Service: srv, Files: fsvc, Store: st}
	if node != nil {
		r.Cluster = node
	}
	if disc != nil { // no typed nil in an interface
		r.Discovery = disc
	}
	if adm != nil {
		r.Admin = adm
	}
	if webSrv != nil {
		r.Web = webSrv
	}
	go func() { done <- shutdown(cfg.ShutdownTimeout, log, r) }()
	err = awaitShutdown(done, cfg.ShutdownTimeout+shutdownGrace, log)
	release() // the process may also just exit: the kernel drops the lock then
	return err
}

// joinCluster connects to the cluster bus named by --cluster-nats as
// --node-id (or the id kept in the data directory).
func joinCluster(ctx context.Context, cfg config, log zerolog.Logger) (*cluster.Node, error) {
	id := cfg.NodeID
	if id == "" {
		var err error
		if id, err = cluster.LoadOrCreateNodeID(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	node, err := cluster.Connect(ctx, cluster.Config{URL: cfg.ClusterNATS, NodeID: id, Logger: log, OnUpChange: service.ObserveBusUp})
	if err != nil {
		return nil, fmt.Errorf("join cluster: %w", err)
	}
	log.Info().Str("node", id).Msg("joined the cluster bus")
	return node, nil
}

// portHint explains a listen error for the person starting chatd.
func portHint(err error) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return " (the port is taken: is another chatd running? stop it or choose another port)"
	}
	return ""
}

// awaitShutdown returns the shutdown's result, or an error once limit has
// passed without one.
func awaitShutdown(done <-chan error, limit time.Duration, log zerolog.Logger) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		log.Error().Dur("limit_ms", limit).Msg("shutdown did not finish; exiting anyway")
		return fmt.Errorf("shutdown did not finish within %v", limit)
	}
}

// shutdownGrace is the time allowed beyond --shutdown-timeout for closing
// the store and the admin listener.
const shutdownGrace = 5 * time.Second

// filesConfig maps the settings to the file port's; the service fills in
// the metadata store, the completion hook and the logger.
func filesConfig(cfg config) files.Config {
	fc := files.Config{
		DataDir:       cfg.DataDir,
		Workers:       cfg.FileWorkers,
		Queue:         cfg.FileQueue,
		StaleAge:      cfg.FileStaleAge,
		RateLimit:     cfg.FileRateLimit,
		DisablePacing: !cfg.FilePacing,
	}
	if cfg.FileSecret != "" {
		fc.Secret = []byte(cfg.FileSecret)
	}
	if cfg.FileQueue == 0 {
		fc.Queue = -1 // files.Config reads 0 as "default"; negative means none
	}
	return fc
}

// startWeb serves the browser client and HTTP file transfers on addr, and
// makes file replies name it in file_url. With a certificate (tc not nil)
// the port speaks HTTPS with the chat port's certificate, reloads
// included; chatTLS points the page at wss:// even from plain HTTP.
func startWeb(addr string, chat net.Addr, fsvc *service.FileService, ver string, tc *tls.Config, chatTLS bool, log zerolog.Logger) (*web.Server, error) {
	_, chatPort, _ := net.SplitHostPort(chat.String())
	h, err := web.NewHandler(web.Config{Files: fsvc.HTTPHandler(), ChatPort: chatPort, Version: ver, ChatTLS: chatTLS})
	if err != nil {
		return nil, fmt.Errorf("web port: %w", err)
	}
	ws, err := web.Listen(addr, h, tc, log)
	if err != nil {
		return nil, fmt.Errorf("start web port: %w", err)
	}
	fsvc.AnnounceWeb(ws.Addr(), tc != nil)
	return ws, nil
}

// running is what serve started, in the order shutdown stops it. Nil
// fields were disabled.
type running struct {
	Discovery io.Closer
	Web       interface{ Shutdown(context.Context) error }
	Service   interface{ Shutdown(context.Context) error }
	Files     interface{ Shutdown(context.Context) error }
	Cluster   interface {
		Leave()
		Close() error
	}
	Store io.Closer
	Admin interface {
		Shutdown(context.Context) error
		Close() error
	}
}

// shutdown stops what serve started, in order, within timeout (plus
// whatever closing the store takes), and returns every failure.
func shutdown(timeout time.Duration, log zerolog.Logger, r running) error {
	start := time.Now()
	var errs []error
	// Before any session closes: the sessions this node ends keep their
	// directory keys until it leaves the cluster below, and the other
	// nodes then tell the friends of the users who did not reconnect
	// elsewhere that they are offline (this node's own presence notices
	// are dropped with its work queue).
	if r.Cluster != nil {
		r.Cluster.Leave()
	}
	if r.Discovery != nil {
		if err := r.Discovery.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The web port first, with the same deadline: HTTP transfers in
	// progress finish or keep their bytes for a resume.
	if r.Web != nil {
		if err := r.Web.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("web port shutdown: %w", err))
		}
	}
	if err := r.Service.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("service shutdown: %w", err))
	}
	// Transfers in progress get what is left of the same deadline; a cut
	// upload keeps its bytes and resumes later.
	if r.Files != nil {
		if err := r.Files.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("file port shutdown: %w", err))
		}
	}
	// Leaving the cluster removes this node's sessions from the directory
	// (its users go offline everywhere at once), before the store closes.
	if r.Cluster != nil {
		if err := r.Cluster.Close(); err != nil {
			errs = append(errs, fmt.Errorf("leave cluster: %w", err))
		}
	}
	if err := r.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	if r.Admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), time.Second)
		if err := r.Admin.Shutdown(actx); err != nil {
			// A scrape or profile still running: cut it.
			r.Admin.Close()
		}
		acancel()
	}
	err := errors.Join(errs...)
	if err != nil {
		log.Error().Err(err).Dur("took_ms", time.Since(start)).Msg("shutdown finished with errors")
		return err
	}
	log.Info().Dur("took_ms", time.Since(start)).Msg("shutdown complete")
	return nil
}

// printListening tells the person who started chatd where it serves.
func printListening(w io.Writer, ver string, at listening) {
	fmt.Fprintf(w, "chatd %s serving\n", ver)
	fmt.Fprintf(w, "  chat       %s (tcp)\n", at.Chat)
	fmt.Fprintf(w, "  files      %s (tcp)\n", at.File)
	if at.Discovery != nil {
		fmt.Fprintf(w, "  discovery  %s (udp)\n", at.Discovery)
	} else {
		fmt.Fprintf(w, "  discovery  off\n")
	}
	if at.Admin != nil {
		fmt.Fprintf(w, "  admin      http://%s/metrics /healthz /readyz /debug/pprof/\n", at.Admin)
	} else {
		fmt.Fprintf(w, "  admin      off\n")
	}
	if at.Web != nil {
		scheme := "http"
		if at.TLS {
			scheme = "https"
		}
		fmt.Fprintf(w, "  web        %s://%s/ (browser client)\n", scheme, at.Web)
	} else {
		fmt.Fprintf(w, "  web        off\n")
	}
	fmt.Fprintf(w, "  store      %s\n", at.Store)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// coalesceWindow maps the flag (0 = off) to service.Config's field (0 =
// the default, negative = off).
func coalesceWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
