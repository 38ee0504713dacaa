package main

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// world is a fake environment and file system for loadConfig.
type world struct {
	env   map[string]string
	files map[string]string
}

func (w world) lookupEnv(k string) (string, bool) { v, ok := w.env[k]; return v, ok }

func (w world) readFile(p string) ([]byte, error) {
	s, ok := w.files[p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func (w world) load(args ...string) (config, error) {
	return loadConfig("chatd", args, w.lookupEnv, w.readFile, io.Discard)
}

func TestDefaultsAreTheContracts(t *testing.T) {
	cfg, err := world{}.load()
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		ChatAddr: ":9000", FileAddr: ":9001", DiscoveryAddr: ":9002", AdminAddr: "127.0.0.1:9090", WebAddr: ":8080",
		DataDir: "./chatd-data", Name: "chatd",
		MaxFrame: 1 << 20, LoginFailuresPerUser: 5, LoginFailuresPerIP: 60,
		MsgRate: 50, MsgBurst: 100, IdleTimeout: 90 * time.Second,
		OutboundQueue: 4 << 20, MaxFileSize: 1 << 30, ShutdownTimeout: 15 * time.Second,
		Argon2Memory: 19 << 20, Argon2Time: 2, CoalesceWindow: 2 * time.Millisecond,
		FileWorkers: 32, FileQueue: 64, FileStaleAge: 24 * time.Hour, FilePacing: true,
		LogLevel: zerolog.InfoLevel, LogFormat: "auto",
	}
	if cfg != want {
		t.Fatalf("defaults = %+v\nwant       %+v", cfg, want)
	}
}

func TestEveryFlagHasAnEnvVariable(t *testing.T) {
	cfg := defaultConfig()
	fs := newFlagSet("chatd", &cfg, io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		name := envName(f.Name)
		if !strings.HasPrefix(name, "CHATD_") || strings.ContainsAny(name, "-abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("flag %s: env name %s", f.Name, name)
		}
	})
	if n < 18 {
		t.Fatalf("only %d flags declared", n)
	}
	for flagName, env := range map[string]string{
		"chat-addr":               "CHATD_CHAT_ADDR",
		"login-failures-per-user": "CHATD_LOGIN_FAILURES_PER_USER",
		"mysql-dsn":               "CHATD_MYSQL_DSN",
		"config":                  "CHATD_CONFIG",
	} {
		if got := envName(flagName); got != env {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, env)
		}
	}
}

func TestPrecedenceFlagOverEnvOverFileOverDefault(t *testing.T) {
	w := world{
		env: map[string]string{
			"CHATD_CHAT_ADDR": ":7001", // beaten by the flag
			"CHATD_FILE_ADDR": ":7002", // beats the file
			"CHATD_CONFIG":    "/etc/chatd.conf",
		},
		files: map[string]string{"/etc/chatd.conf": `
# chatd settings
chat-addr = :6001
file_addr = :6002
msg-rate = 7.5
DATA-DIR = "/var/lib/chatd # not a comment"
`},
	}
	cfg, err := w.load("--chat-addr", ":8001")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ChatAddr != ":8001" {
		t.Errorf("chat-addr = %q, want the flag's :8001", cfg.ChatAddr)
	}
	if cfg.FileAddr != ":7002" {
		t.Errorf("file-addr = %q, want the env's :7002", cfg.FileAddr)
	}
	if cfg.MsgRate != 7.5 {
		t.Errorf("msg-rate = %v, want the file's 7.5", cfg.MsgRate)
	}
	if cfg.DataDir != "/var/lib/chatd # not a comment" {
		t.Errorf("data-dir = %q, want the file's quoted value", cfg.DataDir)
	}
	if cfg.MsgBurst != 100 {
		t.Errorf("msg-burst = %d, want the default 100", cfg.MsgBurst)
	}
	if cfg.ConfigFile != "/etc/chatd.conf" {
		t.Errorf("config = %q", cfg.ConfigFile)
	}
}

func TestConfigFlagBeatsConfigEnv(t *testing.T) {
	w := world{
		env: map[string]string{"CHATD_CONFIG": "/a.conf"},
		files: map[string]string{
			"/a.conf": "name = from-a\n",
			"/b.conf": "name = from-b\n",
		},
	}
	cfg, err := w.load("--config=/b.conf")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-b" {
		t.Fatalf("name = %q, want from-b", cfg.Name)
	}
}

func TestEmptyValuesDisableOptionalListeners(t *testing.T) {
	w := world{
		env:   map[string]string{"CHATD_DISCOVERY_ADDR": ""},
		files: map[string]string{"c": "admin-addr =\n"},
	}
	cfg, err := w.load("--config", "c")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DiscoveryAddr != "" || cfg.AdminAddr != "" {
		t.Fatalf("discovery %q admin %q, want both disabled", cfg.DiscoveryAddr, cfg.AdminAddr)
	}
	cfg, err = world{}.load("--discovery-addr=", "--admin-addr", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DiscoveryAddr != "" || cfg.AdminAddr != "" {
		t.Fatalf("flags: discovery %q admin %q, want both disabled", cfg.DiscoveryAddr, cfg.AdminAddr)
	}
}

func TestValuesParse(t *testing.T) {
	cfg, err := world{}.load(
		"--max-frame", "2MiB",
		"--outbound-queue", "8 MiB",
		"--max-file-size", "4096",
		"--idle-timeout", "2m30s",
		"--log-level", "DEBUG",
		"--log-format", "json",
		"--msg-rate", "0.5",
		"--msg-burst", "3",
		"--login-failures-per-user", "9",
		"--login-failures-per-ip", "99",
		"--mysql-dsn", "root:@tcp(127.0.0.1:3306)/test",
		"--loops", "3",
		"--workers", "64",
		"--cluster-nats", "nats://127.0.0.1:4222",
		"--node-id", "node_a-1",
		"--argon2-memory", "12MiB",
		"--argon2-time", "3",
	)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxFrame != 2<<20 || cfg.OutboundQueue != 8<<20 || cfg.MaxFileSize != 4096 {
		t.Errorf("sizes = %d %d %d", cfg.MaxFrame, cfg.OutboundQueue, cfg.MaxFileSize)
	}
	if cfg.IdleTimeout != 150*time.Second || cfg.LogLevel != zerolog.DebugLevel || cfg.LogFormat != "json" {
		t.Errorf("idle %v level %v format %q", cfg.IdleTimeout, cfg.LogLevel, cfg.LogFormat)
	}
	if cfg.ClusterNATS != "nats://127.0.0.1:4222" || cfg.NodeID != "node_a-1" {
		t.Errorf("cluster %q node %q", cfg.ClusterNATS, cfg.NodeID)
	}
	if cfg.Argon2Memory != 12<<20 || cfg.Argon2Time != 3 {
		t.Errorf("argon2 memory %d time %d", cfg.Argon2Memory, cfg.Argon2Time)
	}
	if p := serviceConfig(cfg, nil, zerolog.Nop(), "").Argon2; p.MemoryKiB != 12<<10 || p.Time != 3 {
		t.Errorf("service argon2 = %+v", p)
	}
	if cfg.Loops != 3 || cfg.Workers != 64 {
		t.Errorf("loops %d workers %d", cfg.Loops, cfg.Workers)
	}
	if cfg.MsgRate != 0.5 || cfg.MsgBurst != 3 || cfg.LoginFailuresPerUser != 9 || cfg.LoginFailuresPerIP != 99 {
		t.Errorf("limits = %v %d %d %d", cfg.MsgRate, cfg.MsgBurst, cfg.LoginFailuresPerUser, cfg.LoginFailuresPerIP)
	}
	// A boolean from each source: flag, environment, file.
	for _, w := range []struct {
		world world
		args  []string
	}{
		{world{}, []string{"--file-pacing=false"}},
		{world{env: map[string]string{"CHATD_FILE_PACING": "false"}}, nil},
		{world{files: map[string]string{"f": "file-pacing = false\n"}}, []string{"--config=f"}},
	} {
		if cfg, err := w.world.load(w.args...); err != nil || cfg.FilePacing {
			t.Errorf("file-pacing=false from %+v %v: pacing %v, err %v", w.world, w.args, cfg.FilePacing, err)
		}
	}
}

func TestBadValuesGiveClearErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    world
		args []string
		want []string // substrings of the error
	}{
		{"bad flag number", world{}, []string{"--msg-burst", "lots"}, []string{"msg-burst"}},
		{"unknown flag", world{}, []string{"--no-such-flag"}, []string{"no-such-flag"}},
		{"stray argument", world{}, []string{"serve-please"}, []string{`unexpected argument "serve-please"`}},
		{"bad env size", world{env: map[string]string{"CHATD_MAX_FRAME": "big"}}, nil, []string{"CHATD_MAX_FRAME", "big", "not a size"}},
		{"bad env duration", world{env: map[string]string{"CHATD_IDLE_TIMEOUT": "90"}}, nil, []string{"CHATD_IDLE_TIMEOUT"}},
		{"bad env level", world{env: map[string]string{"CHATD_LOG_LEVEL": "loud"}}, nil, []string{"CHATD_LOG_LEVEL", "want trace"}},
		{"missing file", world{}, []string{"--config", "/nope.conf"}, []string{"config file", "/nope.conf"}},
		{"file syntax", world{files: map[string]string{"f": "\n\nchat-addr :1\n"}}, []string{"--config=f"}, []string{"f:3", "key = value"}},
		{"file unknown key", world{files: map[string]string{"f": "chat-adr = :1\n"}}, []string{"--config=f"}, []string{"f:1", `unknown setting "chat-adr"`}},
		{"file nested config", world{files: map[string]string{"f": "config = g\n"}}, []string{"--config=f"}, []string{"f:1", "unknown setting"}},
		{"file duplicate", world{files: map[string]string{"f": "name = a\nname = b\n"}}, []string{"--config=f"}, []string{"f:2", "line 1"}},
		{"file bad value", world{files: map[string]string{"f": "# c\nmsg-rate = fast\n"}}, []string{"--config=f"}, []string{"f:2", "msg-rate"}},
		{"file bad quote", world{files: map[string]string{"f": "name = \"open\n"}}, []string{"--config=f"}, []string{"f:1", "quoted"}},
		{"chat addr no port", world{}, []string{"--chat-addr", "localhost"}, []string{"--chat-addr", "host:port"}},
		{"empty chat addr", world{}, []string{"--chat-addr="}, []string{"--chat-addr", "empty"}},
		{"file port too big", world{}, []string{"--file-addr", ":65536"}, []string{"--file-addr"}},
		{"file workers", world{}, []string{"--file-workers", "0"}, []string{"--file-workers"}},
		{"file queue", world{}, []string{"--file-queue", "-1"}, []string{"--file-queue"}},
		{"file rate", world{}, []string{"--file-rate-limit", "fast"}, []string{"file-rate-limit"}},
		{"file pacing", world{env: map[string]string{"CHATD_FILE_PACING": "maybe"}}, nil, []string{"CHATD_FILE_PACING", "maybe"}},
		{"file stale age", world{}, []string{"--file-stale-age", "1s"}, []string{"--file-stale-age"}},
		{"short file secret", world{env: map[string]string{"CHATD_FILE_SECRET": "short"}}, nil, []string{"--file-secret", "16 bytes"}},
		{"admin port name", world{}, []string{"--admin-addr", "localhost:http"}, []string{"--admin-addr"}},
		{"no data dir", world{}, []string{"--data-dir="}, []string{"--data-dir"}},
		{"no data dir with mysql", world{}, []string{"--data-dir=", "--mysql-dsn", "root:@tcp(127.0.0.1:3306)/test"}, []string{"--data-dir"}},
		{"tiny frame", world{}, []string{"--max-frame", "10"}, []string{"--max-frame"}},
		{"huge frame", world{}, []string{"--max-frame", "1GiB"}, []string{"--max-frame"}},
		{"argon2 memory", world{}, []string{"--argon2-memory", "4KiB"}, []string{"--argon2-memory", "8 KiB"}},
		{"argon2 time", world{}, []string{"--argon2-time", "0"}, []string{"--argon2-time"}},
		{"zero rate", world{}, []string{"--msg-rate", "0"}, []string{"--msg-rate"}},
		{"NaN rate", world{}, []string{"--msg-rate", "NaN"}, []string{"--msg-rate"}},
		{"negative burst", world{}, []string{"--msg-burst", "-1"}, []string{"--msg-burst"}},
		{"zero logins", world{}, []string{"--login-failures-per-ip", "0"}, []string{"--login-failures-per-ip"}},
		{"short idle", world{}, []string{"--idle-timeout", "10ms"}, []string{"--idle-timeout"}},
		{"small queue", world{}, []string{"--outbound-queue", "100"}, []string{"--outbound-queue"}},
		{"zero file size", world{}, []string{"--max-file-size", "0"}, []string{"--max-file-size"}},
		{"negative loops", world{}, []string{"--loops", "-1"}, []string{"--loops"}},
		{"too many workers", world{}, []string{"--workers", "1000000"}, []string{"--workers"}},
		{"log format", world{}, []string{"--log-format", "xml"}, []string{"--log-format", "xml"}},
		{"duration without unit", world{}, []string{"--idle-timeout", "90"}, []string{"idle-timeout", "needs a unit", "90s"}},
		{"env duration without unit", world{env: map[string]string{"CHATD_SHUTDOWN_TIMEOUT": "15"}}, nil, []string{"CHATD_SHUTDOWN_TIMEOUT", "needs a unit", "15s"}},
		{"file duration without unit", world{files: map[string]string{"f": "file-stale-age = 24\n"}}, []string{"--config=f"}, []string{"f:1", "file-stale-age", "needs a unit", "24h"}},
		{"not a duration", world{}, []string{"--idle-timeout", "soon"}, []string{"idle-timeout", "not a duration", "90s"}},
		{"file inline comment", world{files: map[string]string{"f": "name = office\nidle-timeout = 90s # a minute and a half\n"}}, []string{"--config=f"}, []string{"f:2", "idle-timeout", "comments must be on their own line"}},
		{"cluster on the embedded store", world{}, []string{"--cluster-nats", "nats://127.0.0.1:4222"}, []string{"--cluster-nats", "needs the MySQL store", "--mysql-dsn"}},
		{"cluster URL", world{}, []string{"--cluster-nats", "127.0.0.1:4222", "--mysql-dsn", "root:@tcp(127.0.0.1:3306)/test"}, []string{"--cluster-nats", "nats://host:4222"}},
		{"node id", world{}, []string{"--node-id", "a.b"}, []string{"--node-id", `"a.b"`}},
		{"DSN as a URL", world{}, []string{"--mysql-dsn", "mysql://root:hunter2@localhost:3306/chatd"}, []string{"--mysql-dsn", "URL", "user:password@tcp(host:port)/database", "@tcp(127.0.0.1:3306)/chatd"}},
		{"DSN without tcp()", world{}, []string{"--mysql-dsn", "root:hunter2@localhost:3306/chatd"}, []string{"--mysql-dsn", "not a go-sql-driver DSN", "user:password@tcp(host:port)/database"}},
		{"DSN without database", world{env: map[string]string{"CHATD_MYSQL_DSN": "root:hunter2@tcp(127.0.0.1:3306)/"}}, nil, []string{"--mysql-dsn", "names no database", "user:password@tcp(host:port)/database"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.w.load(tc.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the DSN's password", err)
			}
		})
	}
}

func TestSeveralBadValuesAreAllReported(t *testing.T) {
	_, err := world{}.load("--msg-burst", "0", "--log-format", "xml")
	if err == nil || !strings.Contains(err.Error(), "--msg-burst") || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("error %v should name both flags", err)
	}
}

func TestHelp(t *testing.T) {
	if _, err := (world{}).load("-h"); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h gave %v, want flag.ErrHelp", err)
	}
}

// FuzzParseConfigFile checks that no file content crashes the parser and
// that every accepted setting names a real flag other than config.
func FuzzParseConfigFile(f *testing.F) {
	f.Add([]byte("chat-addr = :9000\n# comment\nname = \"a b\"\n"))
	f.Add([]byte("=\n"))
	f.Add([]byte("name=\"\\x\"\n"))
	cfg := defaultConfig()
	fs := newFlagSet("chatd", &cfg, io.Discard)
	f.Fuzz(func(t *testing.T, data []byte) {
		settings, err := parseConfigFile("f", data, fs)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range settings {
			if s.key == "config" || fs.Lookup(s.key) == nil {
				t.Fatalf("accepted setting %q", s.key)
			}
			if seen[s.key] {
				t.Fatalf("accepted %q twice", s.key)
			}
			seen[s.key] = true
		}
	})
}

func TestExampleConfigFileHoldsTheDefaults(t *testing.T) {
	w := world{files: map[string]string{}}
	data, err := os.ReadFile("chatd.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	w.files["chatd.conf.example"] = string(data)
	cfg, err := w.load("--config", "chatd.conf.example")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := defaultConfig()
	want.ConfigFile = "chatd.conf.example"
	if cfg != want {
		t.Fatalf("example config = %+v\nwant defaults   %+v", cfg, want)
	}
	// Every setting is listed, so the example documents them all.
	dflt := defaultConfig()
	fs := newFlagSet("chatd", &dflt, io.Discard)
	settings, err := parseConfigFile("example", data, fs)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range settings {
		listed[s.key] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" && !listed[f.Name] {
			t.Errorf("chatd.conf.example does not list %s", f.Name)
		}
	})
}

// A # is part of an unquoted value unless white space comes before it, and
// a quoted value may hold " #": only what looks like a trailing comment is
// refused.
func TestConfigFileHashesInValues(t *testing.T) {
	w := world{files: map[string]string{"f": "file-secret = abc#defghijklmnopq\nname = \"office # 2\"\n# a comment line\n"}}
	cfg, err := w.load("--config=f")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FileSecret != "abc#defghijklmnopq" || cfg.Name != "office # 2" {
		t.Fatalf("secret %q name %q", cfg.FileSecret, cfg.Name)
	}
}
