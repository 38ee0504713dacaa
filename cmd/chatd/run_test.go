package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// testEnv returns a runEnv with an empty environment and buffers for output.
func testEnv(env map[string]string) (runEnv, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	w := world{env: env}
	return runEnv{LookupEnv: w.lookupEnv, ReadFile: os.ReadFile, Stdout: &stdout, Stderr: &stderr}, &stdout, &stderr
}

func TestVersionCommand(t *testing.T) {
	env, stdout, _ := testEnv(nil)
	if err := run(context.Background(), []string{"version"}, env); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"chatd ", "\ngo go1.", "\ncommit ", "\nprotocol 1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("version output %q lacks %q", out, want)
		}
	}
	if err := run(context.Background(), []string{"version", "extra"}, env); !errors.Is(err, errUsage) {
		t.Errorf("version extra: %v, want a usage error", err)
	}
}

func TestVersionPrefersLdflags(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "1.2.3", "abc123"
	bi := readBuildInfo()
	if bi.Version != "1.2.3" || bi.Commit != "abc123" {
		t.Fatalf("build info = %+v", bi)
	}
	var b bytes.Buffer
	bi.Modified = true
	printVersion(&b, bi)
	if !strings.HasPrefix(b.String(), "chatd 1.2.3\n") || !strings.Contains(b.String(), "commit abc123 (modified)\n") {
		t.Fatalf("output %q", b.String())
	}
}

func TestUsageErrors(t *testing.T) {
	env, _, _ := testEnv(nil)
	for _, args := range [][]string{
		{"frobnicate"},
		{"--msg-rate", "x"},
		{"migrate", "--log-format", "xml"},
	} {
		if err := run(context.Background(), args, env); !errors.Is(err, errUsage) {
			t.Errorf("run %q: %v, want a usage error", args, err)
		}
	}
}

// serve is the default command, spelled out or not, and help and the
// unknown-command error both name it.
func TestServeIsACommand(t *testing.T) {
	env, _, stderr := testEnv(nil)
	if err := run(context.Background(), []string{"serve", "-h"}, env); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	if !strings.Contains(stderr.String(), "chatd [serve] [flags]") {
		t.Errorf("serve -h lacks the serve command: %q", stderr.String())
	}
	err := run(context.Background(), []string{"frobnicate"}, env)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "serve") {
		t.Errorf("unknown command: %v, want a usage error listing serve", err)
	}
}

func TestHelpPrintsEveryFlag(t *testing.T) {
	env, stdout, stderr := testEnv(nil)
	// `chatd help` was asked for: stdout. -h is the flag convention: stderr.
	if err := run(context.Background(), []string{"help"}, env); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"-h"}, env); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for name, out := range map[string]string{"help": stdout.String(), "-h": stderr.String()} {
		for _, want := range []string{"CHATD_CHAT_ADDR", "-chat-addr", "-mysql-dsn", "-log-format", "-loops", "chatd migrate"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output lacks %q", name, want)
			}
		}
	}
}

func TestMigrateEmbeddedStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env, stdout, _ := testEnv(map[string]string{"CHATD_DATA_DIR": dir, "CHATD_LOG_LEVEL": "warn"})
	if err := run(context.Background(), []string{"migrate"}, env); err != nil {
		t.Fatal(err)
	}
	first := stdout.String()
	if !strings.Contains(first, "schema version ") || !strings.Contains(first, dir) {
		t.Fatalf("migrate output %q", first)
	}
	if _, err := os.Stat(filepath.Join(dir, "chatd.db")); err != nil {
		t.Fatalf("no database file: %v", err)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"migrate"}, env); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if stdout.String() != first {
		t.Fatalf("second migrate said %q, first %q", stdout.String(), first)
	}
}

func TestMigrateReportsStoreErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, _, _ := testEnv(map[string]string{"CHATD_DATA_DIR": file})
	err := run(context.Background(), []string{"migrate"}, env)
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("migrate into a file: %v", err)
	}
}

func TestDescribeStoreHidesPassword(t *testing.T) {
	cfg := defaultConfig()
	cfg.MySQLDSN = "chat:s3cret@tcp(db.example:3306)/chatd?charset=utf8mb4"
	got := describeStore(cfg)
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "db.example:3306") || !strings.Contains(got, "/chatd") {
		t.Fatalf("describeStore = %q", got)
	}
	if sc := storeConfig(cfg); sc.Driver != "mysql" || sc.DSN != cfg.MySQLDSN {
		t.Fatalf("storeConfig = %+v", sc)
	}
	cfg.MySQLDSN = ""
	if sc := storeConfig(cfg); sc.Driver != "sqlite" || sc.DataDir != cfg.DataDir {
		t.Fatalf("storeConfig = %+v", sc)
	}
}

func TestLoggerFormats(t *testing.T) {
	var b bytes.Buffer
	log := newLogger(&b, zerolog.InfoLevel, "auto") // a buffer is not a terminal: JSON
	log.Debug().Msg("hidden")
	log.Info().Str("k", "v").Msg("shown")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("auto format off a terminal is not one JSON line: %q", b.String())
	}
	if line["message"] != "shown" || line["k"] != "v" || line["level"] != "info" || line["time"] == nil {
		t.Fatalf("line = %v", line)
	}
	b.Reset()
	console := newLogger(&b, zerolog.InfoLevel, "console")
	console.Info().Msg("hello")
	if json.Valid(b.Bytes()) || !strings.Contains(b.String(), "hello") {
		t.Fatalf("console output %q", b.String())
	}
}

func TestLoggerSerialisesConcurrentWrites(t *testing.T) {
	var b bytes.Buffer // not safe for concurrent use by itself
	log := newLogger(&b, zerolog.InfoLevel, "json")
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				log.Info().Int("i", i).Msg("concurrent")
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("interleaved line %q", l)
		}
	}
}
