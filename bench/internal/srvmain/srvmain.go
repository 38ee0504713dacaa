package srvmain

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/rs/zerolog"
)

// Mode values accepted by -mode.
const (
	ModeEcho      = "echo"
	ModeBroadcast = "broadcast"
)

// Config is what a bench server is told on its command line.
type Config struct {
	Port  int    // TCP port on 127.0.0.1; 0 lets the kernel pick (tests only)
	Loops int    // event loops; GOMAXPROCS when not set
	Mode  string // ModeEcho or ModeBroadcast
	// CPUProfile, if set, is a file that gets a pprof CPU profile of the
	// server's whole run (for finding where a scenario's CPU goes).
	CPUProfile string
}

// Addr is the listen address host:port on loopback.
func (c Config) Addr() string { return "127.0.0.1:" + strconv.Itoa(c.Port) }

// Validate checks the mode and ranges.
func (c Config) Validate() error {
	if c.Mode != ModeEcho && c.Mode != ModeBroadcast {
		return fmt.Errorf("srvmain: -mode %q: want echo or broadcast", c.Mode)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("srvmain: -port %d out of range", c.Port)
	}
	if c.Loops < 1 {
		return fmt.Errorf("srvmain: -loops %d: want at least 1", c.Loops)
	}
	return nil
}

// Parse reads the flags from args (without the program name).
func Parse(name string, args []string) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var c Config
	fs.IntVar(&c.Port, "port", 9000, "listen on 127.0.0.1:`N`")
	fs.IntVar(&c.Loops, "loops", runtime.GOMAXPROCS(0), "event loops (default GOMAXPROCS)")
	fs.StringVar(&c.Mode, "mode", ModeEcho, "echo|broadcast")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to `file`")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Main parses os.Args, runs serve until SIGTERM or SIGINT cancels its
// context, and exits 0 when serve returns nil, 1 otherwise.
func Main(name string, serve func(ctx context.Context, cfg Config) error) {
	log := zerolog.New(os.Stderr).With().Timestamp().Str("server", name).Logger()
	cfg, err := Parse(name, os.Args[1:])
	if err != nil {
		log.Error().Err(err).Msg("bad flags")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Error().Err(err).Msg("cpu profile")
			os.Exit(1)
		}
		defer f.Close()
	}
	log.Info().Str("addr", cfg.Addr()).Int("loops", cfg.Loops).Str("mode", cfg.Mode).Msg("serving")
	err = serve(ctx, cfg)
	pprof.StopCPUProfile() // a no-op without -cpuprofile
	if err != nil {
		log.Error().Err(err).Msg("server failed")
		os.Exit(1)
	}
}
