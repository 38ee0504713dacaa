package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/bench/internal/procstat"
	"github.com/chatd/chatd/bench/internal/wsclient"
)

// config is the command line.
type config struct {
	Addr     string
	Mode     string
	Conns    int
	Size     int
	Depth    int
	Count    int
	Duration time.Duration
	Senders  int
	Rate     int
	PID      int
	Label    string
	Settle   time.Duration
	Dialers  int
	WS       bool
	TLS      bool
	Resume   bool
	Flood    int
	Interval time.Duration
	// FloodAddr is where the flood's handshakes go ("": Addr); FloodProcess
	// runs them in a child loadgen.
	FloodAddr    string
	FloodProcess bool
}

// result is the JSON line loadgen prints.
type result struct {
	Label       string  `json:"label,omitempty"`
	Mode        string  `json:"mode"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size"`
	Depth       int     `json:"depth,omitempty"`
	Senders     int     `json:"senders,omitempty"`
	Rate        int     `json:"rate,omitempty"`
	Seconds     float64 `json:"seconds"`
	Messages    int64   `json:"messages"` // echo round trips, or broadcast deliveries
	Sent        int64   `json:"sent,omitempty"`
	Probes      int64   `json:"probes,omitempty"` // broadcast join probes, each delivered to every conn
	Expected    int64   `json:"expected,omitempty"`
	Lost        int64   `json:"lost,omitempty"`
	Errors      int64   `json:"errors"`
	MsgsPerSec  float64 `json:"msgs_per_s"`
	P50us       int64   `json:"p50_us"`
	P99us       int64   `json:"p99_us"`
	MaxUs       int64   `json:"max_us"`
	CPUSeconds  float64 `json:"server_cpu_s,omitempty"`
	CPUusPerMsg float64 `json:"server_cpu_us_per_msg,omitempty"`
	Syscw       int64   `json:"server_syscw,omitempty"`
	RSSBefore   int64   `json:"server_rss_before,omitempty"`
	RSSAfter    int64   `json:"server_rss_after,omitempty"`
	RSSPerConn  float64 `json:"server_rss_per_conn,omitempty"`
	FirstError  string  `json:"first_error,omitempty"`
	Resumed     int64   `json:"resumed,omitempty"`      // handshake: resumed sessions
	Handshakes  int64   `json:"handshakes,omitempty"`   // flood: handshakes completed during the flood
	QuietP99us  int64   `json:"quiet_p99_us,omitempty"` // flood: ping p99 before the flood
}

func parse(args []string) (config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:9000", "server address")
	fs.StringVar(&c.Mode, "mode", "echo", "echo|idle|broadcast|handshake|flood (the last two speak TLS)")
	fs.IntVar(&c.Conns, "conns", 100, "connections")
	fs.IntVar(&c.Size, "size", 64, "echo message size, or broadcast payload size (at least 20), in bytes")
	fs.IntVar(&c.Depth, "depth", 1, "echo: messages in flight per connection")
	fs.IntVar(&c.Count, "count", 0, "echo: send exactly `N` messages on every connection, then stop (0: run for -duration); -duration then bounds the run")
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "measured duration (echo, broadcast sending); with -count, the time limit")
	fs.IntVar(&c.Senders, "senders", 10, "broadcast: sending connections")
	fs.IntVar(&c.Rate, "rate", 100, "broadcast: frames per second summed over all senders")
	fs.IntVar(&c.PID, "pid", 0, "server pid to sample /proc for (0: none)")
	fs.StringVar(&c.Label, "label", "", "copied into the result")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "idle: wait before sampling RSS")
	fs.IntVar(&c.Dialers, "dialers", 64, "concurrent dials while connecting")
	fs.BoolVar(&c.WS, "ws", false, "speak WebSocket: upgrade at "+wsclient.Path+", one masked binary message per write")
	fs.BoolVar(&c.TLS, "tls", false, "speak TLS (the server's certificate is not verified)")
	fs.BoolVar(&c.Resume, "resume", false, "handshake: resume sessions (TLS session tickets) instead of full handshakes")
	fs.IntVar(&c.Flood, "flood", 32, "flood: goroutines doing full handshakes back to back")
	fs.DurationVar(&c.Interval, "interval", 10*time.Millisecond, "flood: time between pings on each connection")
	fs.StringVar(&c.FloodAddr, "flood-addr", "", "flood: send the handshakes to this server instead of -addr (another process on the same machine gives the machine's floor)")
	fs.BoolVar(&c.FloodProcess, "flood-process", false, "flood: do the handshakes in a child loadgen, so that they do not share a Go scheduler with the pings")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.Mode != "echo" && c.Mode != "idle" && c.Mode != "broadcast" && c.Mode != "handshake" && c.Mode != "flood":
		return c, fmt.Errorf("loadgen: -mode %q: want echo, idle, broadcast, handshake or flood", c.Mode)
	case c.Conns < 1 || c.Depth < 1 || c.Dialers < 1 || c.Count < 0:
		return c, errors.New("loadgen: -conns, -depth and -dialers must be positive, -count not negative")
	case c.Count > 0 && c.Mode != "echo":
		return c, errors.New("loadgen: -count is for -mode echo")
	case c.Mode == "echo" && c.Size < 1:
		return c, errors.New("loadgen: -size must be positive")
	case c.Mode == "broadcast" && (c.Size < payloadMin || c.Senders < 1 || c.Senders > c.Conns || c.Rate < c.Senders):
		return c, fmt.Errorf("loadgen: broadcast needs -size >= %d, 1 <= -senders <= -conns, -rate >= -senders", payloadMin)
	}
	return c, nil
}

func main() {
	log := zerolog.New(os.Stderr).With().Timestamp().Str("cmd", "loadgen").Logger()
	cfg, err := parse(os.Args[1:])
	if err != nil {
		log.Error().Err(err).Msg("bad flags")
		os.Exit(2)
	}
	if cfg.TLS || cfg.Mode == "flood" {
		clientTLS = &tls.Config{InsecureSkipVerify: true}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var res result
	switch cfg.Mode {
	case "echo":
		res, err = runEcho(ctx, cfg)
	case "idle":
		res, err = runIdle(ctx, cfg)
	case "broadcast":
		res, err = runBroadcast(ctx, cfg)
	case "handshake":
		res, err = runHandshake(ctx, cfg)
	case "flood":
		res, err = runFlood(ctx, cfg)
	}
	if err != nil {
		log.Error().Err(err).Str("mode", cfg.Mode).Msg("run failed")
		os.Exit(1)
	}
	res.Label, res.Mode, res.Conns, res.Size = cfg.Label, cfg.Mode, cfg.Conns, cfg.Size
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Error().Err(err).Msg("write result")
		os.Exit(1)
	}
}

// clientTLS, when -tls is set, wraps every dialed connection in TLS.
var clientTLS *tls.Config

// dialAll opens n connections to addr, dialers at a time, upgraded to
// WebSocket when ws is set.
func dialAll(ctx context.Context, addr string, n, dialers int, ws bool) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make(chan error, dialers)
	next := make(chan int)
	var wg sync.WaitGroup
	d := net.Dialer{Timeout: 10 * time.Second}
	for w := 0; w < dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					select {
					case errs <- fmt.Errorf("dial %s (conn %d): %w", addr, i, err):
					default:
					}
					continue
				}
				if clientTLS != nil {
					tc := tls.Client(c, clientTLS)
					tc.SetDeadline(time.Now().Add(10 * time.Second))
					if err := tc.Handshake(); err != nil {
						c.Close()
						select {
						case errs <- fmt.Errorf("tls handshake %s (conn %d): %w", addr, i, err):
						default:
						}
						continue
					}
					tc.SetDeadline(time.Time{})
					c = tc
				}
				if ws {
					wc, err := wsclient.Upgrade(c, 10*time.Second)
					if err != nil {
						c.Close()
						select {
						case errs <- fmt.Errorf("upgrade %s (conn %d): %w", addr, i, err):
						default:
						}
						continue
					}
					c = wc
				}
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		closeAll(conns)
		return nil, err
	default:
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// probe samples a server process; the zero value (pid 0) samples nothing.
type probe struct {
	pid   int
	cpu   time.Duration
	syscw int64
}

func startProbe(pid int) (probe, error) {
	p := probe{pid: pid}
	if pid == 0 {
		return p, nil
	}
	var err error
	if p.cpu, err = procstat.CPU(pid); err != nil {
		return p, err
	}
	p.syscw, _ = procstat.WriteSyscalls(pid) // best effort: not all kernels expose io
	return p, nil
}

// finish fills the CPU and syscall deltas of res over messages.
func (p probe) finish(res *result) error {
	if p.pid == 0 {
		return nil
	}
	cpu, err := procstat.CPU(p.pid)
	if err != nil {
		return err
	}
	res.CPUSeconds = (cpu - p.cpu).Seconds()
	if res.Messages > 0 {
		res.CPUusPerMsg = float64((cpu - p.cpu).Microseconds()) / float64(res.Messages)
	}
	if w, err := procstat.WriteSyscalls(p.pid); err == nil {
		res.Syscw = w - p.syscw
	}
	return nil
}
