package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/go-sql-driver/mysql"

	"github.com/chatd/chatd/cluster"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/auth"
	"github.com/chatd/chatd/service/files"
)

// envPrefix starts the environment variable of every flag: --chat-addr is
// CHATD_CHAT_ADDR.
const envPrefix = "CHATD_"

// maxFrameCap bounds --max-frame: far above any sane chat frame, and the
// reactor keeps up to this much unconsumed input per connection.
const maxFrameCap = 64 << 20

// The argon2id memory bounds: argon2 itself needs 8 KiB per thread, and
// past 4 GiB every login would risk the whole machine.
const (
	minArgon2Memory = 8 << 10
	maxArgon2Memory = 4 << 30
)

// config is everything chatd's command line, environment and config file
// can set.
type config struct {
	ChatAddr      string
	FileAddr      string
	DiscoveryAddr string // "" disables discovery
	AdminAddr     string // "" disables the admin listener
	WebAddr       string // "" disables the web port (browser client, HTTP files)
	DataDir       string
	MySQLDSN      string // "" selects the embedded SQLite store in DataDir
	Name          string // announced by discovery
	ClusterNATS   string // NATS URL of the cluster bus; "" runs alone
	NodeID        string // this node's id in the cluster; "" = kept in DataDir

	MaxFrame             int64
	LoginFailuresPerUser int
	LoginFailuresPerIP   int
	MsgRate              float64
	MsgBurst             int
	IdleTimeout          time.Duration
	OutboundQueue        int64
	MaxFileSize          int64
	ShutdownTimeout      time.Duration
	Loops                int // event loops; 0 = GOMAXPROCS
	CoalesceWindow       time.Duration
	Workers              int   // store worker goroutines; 0 = the service's default
	Argon2Memory         int64 // argon2id memory per password hash, bytes
	Argon2Time           int   // argon2id passes per password hash

	FileWorkers   int           // file transfers served at once
	FileQueue     int           // file connections waiting for a worker
	FileStaleAge  time.Duration // age at which partial uploads are removed
	FileRateLimit int64         // bytes/s of all transfers together; 0 = no cap
	FilePacing    bool          // slow transfers down when they delay the server
	FileSecret    string        // token HMAC key; "" = kept in DataDir

	TLSCert     string // PEM certificate (chain) file; "" serves no TLS
	TLSKey      string // PEM private key file
	TLSRequired bool   // close plaintext chat and file connections
	WSOrigins   string // comma-separated Origins allowed for WebSocket; "" allows any

	LogLevel  zerolog.Level
	LogFormat string // auto, console or json

	ConfigFile string // where file settings came from, "" for none
}

// defaultConfig returns the contract's defaults.
func defaultConfig() config {
	l := protocol.DefaultLimits()
	return config{
		ChatAddr:             fmt.Sprintf(":%d", protocol.DefaultChatPort),
		FileAddr:             fmt.Sprintf(":%d", protocol.DefaultFilePort),
		DiscoveryAddr:        fmt.Sprintf(":%d", protocol.DefaultDiscoveryPort),
		AdminAddr:            "127.0.0.1:9090",
		WebAddr:              ":8080",
		DataDir:              "./chatd-data",
		Name:                 "chatd",
		MaxFrame:             int64(l.MaxFrameBody),
		LoginFailuresPerUser: 5,
		LoginFailuresPerIP:   60,
		MsgRate:              50,
		MsgBurst:             100,
		IdleTimeout:          90 * time.Second,
		OutboundQueue:        4 << 20,
		MaxFileSize:          l.MaxFileSize,
		ShutdownTimeout:      15 * time.Second,
		Argon2Memory:         int64(auth.DefaultParams.MemoryKiB) << 10,
		Argon2Time:           int(auth.DefaultParams.Time),
		CoalesceWindow:       2 * time.Millisecond, // service.DefaultCoalesceWindow
		FileWorkers:          files.DefaultWorkers,
		FileQueue:            files.DefaultQueue,
		FileStaleAge:         files.DefaultStaleAge,
		FilePacing:           true,
		LogLevel:             zerolog.InfoLevel,
		LogFormat:            "auto",
	}
}

// byteSize is a flag.Value for sizes: a plain number of bytes or a number
// with a unit ("1MiB", "4 MiB", "1GiB"; "1MB" means 10^6 bytes).
type byteSize struct{ p *int64 }

func (b byteSize) String() string {
	if b.p == nil {
		return ""
	}
	return strconv.FormatInt(*b.p, 10)
}

func (b byteSize) Set(s string) error {
	n, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not a size (want bytes, or a number with a unit such as 4MiB)")
	}
	if n > math.MaxInt64 {
		return fmt.Errorf("size too large")
	}
	*b.p = int64(n)
	return nil
}

// duration is a flag.Value for time.Duration that explains a missing unit:
// flag's own says only "parse error" for --idle-timeout 90.
type duration struct{ p *time.Duration }

func (d duration) String() string {
	if d.p == nil {
		return ""
	}
	return d.p.String()
}

func (d duration) Set(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err == nil {
		*d.p = v
		return nil
	}
	if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
		return fmt.Errorf("a duration needs a unit: %ss, %sm or %sh (Go syntax: 90s, 2m, 1h30m)", s, s, s)
	}
	return fmt.Errorf("not a duration (Go syntax with a unit: 90s, 2m, 1h30m)")
}

// logLevel is a flag.Value for zerolog levels.
type logLevel struct{ p *zerolog.Level }

func (l logLevel) String() string {
	if l.p == nil {
		return ""
	}
	return l.p.String()
}

func (l logLevel) Set(s string) error {
	lv, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(s)))
	if err != nil || s == "" {
		return fmt.Errorf("want trace, debug, info, warn, error, fatal, panic or disabled")
	}
	*l.p = lv
	return nil
}

// newFlagSet declares every setting on cfg's fields with cfg's values as
// defaults. Errors and usage go to out.
func newFlagSet(name string, cfg *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.ChatAddr, "chat-addr", cfg.ChatAddr, "chat `address` (TCP)")
	fs.StringVar(&cfg.FileAddr, "file-addr", cfg.FileAddr, "file port `address` (TCP); a :PORT address is announced to each client with the host it reached")
	fs.StringVar(&cfg.DiscoveryAddr, "discovery-addr", cfg.DiscoveryAddr, "LAN discovery `address` (UDP); empty disables")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "admin HTTP `address` (/metrics, /healthz, /readyz, /debug/pprof); empty disables")
	fs.StringVar(&cfg.WebAddr, "web-addr", cfg.WebAddr, "web port `address` (HTTP): the browser client, /config.json and HTTP file transfers; empty disables")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`directory` of the embedded store")
	fs.StringVar(&cfg.MySQLDSN, "mysql-dsn", cfg.MySQLDSN, "MySQL/MariaDB `DSN` (go-sql-driver format); empty uses the embedded store in --data-dir")
	fs.StringVar(&cfg.ClusterNATS, "cluster-nats", cfg.ClusterNATS, "NATS `URL` (nats://host:4222, JetStream enabled) joining this chatd to the others using it and the same --mysql-dsn as one server; empty runs alone")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "this node's `id` in the cluster (letters, digits, _ and -); empty uses one generated once and kept in --data-dir")
	fs.StringVar(&cfg.Name, "name", cfg.Name, "server `name` announced by LAN discovery")
	fs.Var(byteSize{&cfg.MaxFrame}, "max-frame", "largest frame body in `bytes` (units allowed: 1MiB)")
	fs.IntVar(&cfg.LoginFailuresPerUser, "login-failures-per-user", cfg.LoginFailuresPerUser, "failed logins allowed per username per minute")
	fs.IntVar(&cfg.LoginFailuresPerIP, "login-failures-per-ip", cfg.LoginFailuresPerIP, "failed logins allowed per client IP per minute")
	fs.Float64Var(&cfg.MsgRate, "msg-rate", cfg.MsgRate, "messages per second allowed per connection")
	fs.IntVar(&cfg.MsgBurst, "msg-burst", cfg.MsgBurst, "message burst allowed per connection")
	fs.Var(duration{&cfg.IdleTimeout}, "idle-timeout", "close connections silent for this `duration`")
	fs.Var(byteSize{&cfg.OutboundQueue}, "outbound-queue", "per-connection outbound queue limit in `bytes`; a slower client is disconnected")
	fs.Var(byteSize{&cfg.MaxFileSize}, "max-file-size", "largest file offer in `bytes`")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, "event-loop goroutines; 0 means one per CPU (GOMAXPROCS)")
	fs.Var(duration{&cfg.CoalesceWindow}, "coalesce-window", "let pushes to one connection gather for up to this `duration` under load and leave in one write (0 turns it off)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "store worker goroutines; 0 means the service default (1024)")
	fs.Var(byteSize{&cfg.Argon2Memory}, "argon2-memory", "argon2id `memory` per password hash (OWASP's minimum, 19MiB, by default); new and changed passwords use it, stored hashes keep their own")
	fs.IntVar(&cfg.Argon2Time, "argon2-time", cfg.Argon2Time, "argon2id `passes` per password hash; lower memory needs more passes (OWASP: 19MiB with 2, 12MiB with 3, 7MiB with 5)")
	fs.IntVar(&cfg.FileWorkers, "file-workers", cfg.FileWorkers, "file transfers served at once")
	fs.IntVar(&cfg.FileQueue, "file-queue", cfg.FileQueue, "file connections that may wait for a free transfer worker")
	fs.Var(duration{&cfg.FileStaleAge}, "file-stale-age", "remove partial uploads untouched for this `duration`")
	fs.Var(byteSize{&cfg.FileRateLimit}, "file-rate-limit", "cap on `bytes` per second of all file transfers together (e.g. 50MiB); 0 means no cap")
	fs.BoolVar(&cfg.FilePacing, "file-pacing", cfg.FilePacing, "pace file transfers as background traffic: slow them down while they delay the server's threads (chat first); false runs them at full speed")
	fs.StringVar(&cfg.FileSecret, "file-secret", cfg.FileSecret, "file token signing `key` (16+ bytes; set the same on every chatd sharing a database; prefer CHATD_FILE_SECRET over the flag); empty keeps a generated one in --data-dir")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "TLS certificate `file` (PEM, chain allowed): the chat and file ports then also accept TLS and the web port serves HTTPS; reloaded on SIGHUP and when it changes")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "TLS private key `file` (PEM) for --tls-cert")
	fs.BoolVar(&cfg.TLSRequired, "tls-required", cfg.TLSRequired, "refuse plaintext: close chat and file connections that do not start TLS (needs --tls-cert)")
	fs.StringVar(&cfg.WSOrigins, "ws-origins", cfg.WSOrigins, "`origins` allowed to open a WebSocket on the chat port, comma-separated (https://chat.example.com); empty allows any")
	fs.Var(duration{&cfg.ShutdownTimeout}, "shutdown-timeout", "how long a graceful shutdown may take")
	fs.Var(logLevel{&cfg.LogLevel}, "log-level", "log `level`: trace, debug, info, warn, error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format`: auto (console on a terminal, else JSON), console or json")
	fs.StringVar(&cfg.ConfigFile, "config", cfg.ConfigFile, "optional settings `file` of key = value lines (keys are flag names)")
	return fs
}

// envName returns the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadConfig builds the configuration from args, then the environment
// (lookupEnv), then the config file (readFile), then the defaults; the first
// that sets a value wins. It returns flag.ErrHelp for -h.
func loadConfig(name string, args []string, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error), out io.Writer) (config, error) {
	cfg, rest, err := loadCommandConfig(name, args, nil, lookupEnv, readFile, out)
	if err == nil && len(rest) > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", rest[0])
	}
	return cfg, err
}

// loadCommandConfig is loadConfig for a command that also takes the flags
// extra declares (on the command line only: the environment and the config
// file set the server's settings) and returns its positional arguments.
func loadCommandConfig(name string, args []string, extra func(*flag.FlagSet), lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error), out io.Writer) (config, []string, error) {
	cfg := defaultConfig()
	fs := newFlagSet(name, &cfg, out)
	cmdLine := fs
	if extra != nil {
		cmdLine = flag.NewFlagSet(name, flag.ContinueOnError)
		cmdLine.SetOutput(out)
		fs.VisitAll(func(f *flag.Flag) { cmdLine.Var(f.Value, f.Name, f.Usage) })
		extra(cmdLine)
	}
	// Flags may come before, between or after positional arguments.
	var positional []string
	for {
		if err := cmdLine.Parse(args); err != nil {
			return config{}, nil, err
		}
		if cmdLine.NArg() == 0 {
			break
		}
		positional = append(positional, cmdLine.Arg(0))
		args = cmdLine.Args()[1:]
	}
	onCommandLine := map[string]bool{}
	cmdLine.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	fromEnv := map[string]bool{}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if onCommandLine[f.Name] {
			return
		}
		v, ok := lookupEnv(envName(f.Name))
		if !ok {
			return
		}
		fromEnv[f.Name] = true
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return config{}, nil, err
	}

	if cfg.ConfigFile != "" {
		data, err := readFile(cfg.ConfigFile)
		if err != nil {
			return config{}, nil, fmt.Errorf("config file: %w", err)
		}
		settings, err := parseConfigFile(cfg.ConfigFile, data, fs)
		if err != nil {
			return config{}, nil, err
		}
		for _, s := range settings {
			if onCommandLine[s.key] || fromEnv[s.key] {
				continue
			}
			if err := fs.Set(s.key, s.value); err != nil {
				return config{}, nil, fmt.Errorf("%s:%d: %s: %w", cfg.ConfigFile, s.line, s.key, err)
			}
		}
	}
	if err := cfg.validate(); err != nil {
		return config{}, nil, err
	}
	return cfg, positional, nil
}

// inlineComment matches a value with a # after white space, which people
// write as a comment at the end of a line.
var inlineComment = regexp.MustCompile(`\s#`)

// setting is one key = value line of a config file.
type setting struct {
	key, value string
	line       int
}

// parseConfigFile reads key = value lines. Keys are flag names (- or _ both
// accepted, any case); blank lines and lines starting with # are skipped; a
// value may be "double quoted" (Go syntax) to keep spaces or a #. An
// unquoted value with " #" in it is refused rather than guessed to end in a
// comment. A key may appear once.
func parseConfigFile(path string, data []byte, fs *flag.FlagSet) ([]setting, error) {
	var out []setting
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key = value, got %q", path, n, line)
		}
		key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(k), "_", "-"))
		if key == "config" || fs.Lookup(key) == nil {
			return nil, fmt.Errorf("%s:%d: unknown setting %q", path, n, strings.TrimSpace(k))
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s:%d: %s already set on line %d", path, n, key, prev)
		}
		seen[key] = n
		value := strings.TrimSpace(v)
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: bad quoted value %s", path, n, key, value)
			}
			value = uq
		} else if inlineComment.MatchString(value) {
			// Cutting it off could silently shorten a password or key
			// that holds " #"; refusing says what to do either way.
			return nil, fmt.Errorf("%s:%d: %s: the value holds \" #\", which looks like a comment: comments must be on their own line (quote the value, \"...\", if the # belongs to it)", path, n, key)
		}
		out = append(out, setting{key: key, value: value, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// validate rejects values no server could run with, naming the flag.
func (c *config) validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flagName, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(flagName, addr string, optional bool) {
		if addr == "" {
			if !optional {
				bad(flagName, "must not be empty")
			}
			return
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			bad(flagName, "%q is not host:port (use :PORT for every interface)", addr)
			return
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			bad(flagName, "%q: port must be a number from 0 to 65535 (0 picks a free one)", addr)
		}
	}
	checkAddr("chat-addr", c.ChatAddr, false)
	checkAddr("file-addr", c.FileAddr, false)
	checkAddr("discovery-addr", c.DiscoveryAddr, true)
	checkAddr("admin-addr", c.AdminAddr, true)
	checkAddr("web-addr", c.WebAddr, true)
	if c.MySQLDSN != "" {
		if msg := checkDSN(c.MySQLDSN); msg != "" {
			bad("mysql-dsn", "%s; want user:password@tcp(host:port)/database, e.g. %s", msg, exampleDSN)
		}
	}
	if c.ClusterNATS != "" {
		if c.MySQLDSN == "" {
			bad("cluster-nats", "cluster mode needs the MySQL store: set --mysql-dsn to the database every node shares (the embedded store lives in one node's --data-dir, where the other nodes cannot see it)")
		}
		if !strings.HasPrefix(c.ClusterNATS, "nats://") && !strings.HasPrefix(c.ClusterNATS, "tls://") {
			bad("cluster-nats", "%q is not a NATS URL; want nats://host:4222", c.ClusterNATS)
		}
	}
	if c.NodeID != "" && !cluster.ValidNodeID(c.NodeID) {
		bad("node-id", "%q: use 1 to 64 letters, digits, '_' or '-'", c.NodeID)
	}
	if err := checkTLSFlags(*c); err != nil {
		errs = append(errs, err)
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty: it holds the embedded store, uploaded files and the file token key")
	}
	if c.MaxFrame < 64 || c.MaxFrame > maxFrameCap {
		bad("max-frame", "%d is outside 64 bytes to %d MiB", c.MaxFrame, maxFrameCap>>20)
	}
	if c.Argon2Memory < minArgon2Memory || c.Argon2Memory > maxArgon2Memory {
		bad("argon2-memory", "%d is outside %d KiB to %d GiB", c.Argon2Memory, minArgon2Memory>>10, maxArgon2Memory>>30)
	}
	if c.Argon2Time < 1 || c.Argon2Time > 100 {
		bad("argon2-time", "%d is outside 1 to 100", c.Argon2Time)
	}
	if c.LoginFailuresPerUser < 1 {
		bad("login-failures-per-user", "must be at least 1")
	}
	if c.LoginFailuresPerIP < 1 {
		bad("login-failures-per-ip", "must be at least 1")
	}
	if !(c.MsgRate > 0) || math.IsInf(c.MsgRate, 0) {
		bad("msg-rate", "must be a positive number")
	}
	if c.MsgBurst < 1 {
		bad("msg-burst", "must be at least 1")
	}
	if c.IdleTimeout < time.Second {
		bad("idle-timeout", "must be at least 1s")
	}
	if c.OutboundQueue < 64<<10 || c.OutboundQueue > math.MaxInt32 {
		bad("outbound-queue", "%d is outside 64 KiB to 2 GiB", c.OutboundQueue)
	}
	if c.MaxFileSize < 1 {
		bad("max-file-size", "must be at least 1 byte")
	}
	if c.CoalesceWindow < 0 || c.CoalesceWindow > 100*time.Millisecond {
		bad("coalesce-window", "%v is outside 0 to 100ms", c.CoalesceWindow)
	}
	if c.Loops < 0 || c.Loops > 1024 {
		bad("loops", "%d is outside 0 to 1024", c.Loops)
	}
	if c.Workers < 0 || c.Workers > 1<<16 {
		bad("workers", "%d is outside 0 to 65536", c.Workers)
	}
	if c.FileWorkers < 1 || c.FileWorkers > 4096 {
		bad("file-workers", "%d is outside 1 to 4096", c.FileWorkers)
	}
	if c.FileQueue < 0 || c.FileQueue > 1<<16 {
		bad("file-queue", "%d is outside 0 to 65536", c.FileQueue)
	}
	if c.FileStaleAge < time.Minute {
		bad("file-stale-age", "must be at least 1m")
	}
	if c.FileSecret != "" && len(c.FileSecret) < files.MinSecretSize {
		bad("file-secret", "must be at least %d bytes", files.MinSecretSize)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown-timeout", "must not be negative")
	}
	switch c.LogFormat {
	case "auto", "console", "json":
	default:
		bad("log-format", "%q: want auto, console or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

// exampleDSN is the DSN shape errors suggest.
const exampleDSN = "chatd:secret@tcp(127.0.0.1:3306)/chatd?charset=utf8mb4"

// checkDSN says what is wrong with a MySQL DSN, "" when nothing is. The
// message never repeats the DSN, which holds a password.
func checkDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return "a URL is not a go-sql-driver DSN"
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "not a go-sql-driver DSN (" + err.Error() + ")"
	}
	if mc.DBName == "" {
		return "names no database"
	}
	return ""
}
