package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runToFailure runs chatd with env and returns its start-up error; a chatd
// that starts serving instead fails the test (and is stopped).
func runToFailure(t *testing.T, env map[string]string) error {
	t.Helper()
	full := map[string]string{"CHATD_DISCOVERY_ADDR": "", "CHATD_ADMIN_ADDR": "", "CHATD_LOG_LEVEL": "disabled"}
	for k, v := range env {
		full[k] = v
	}
	re, _, _ := testEnv(full)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	re.OnReady = func(at listening) {
		t.Errorf("started serving on %v; want a start-up error", at.Chat)
		cancel()
	}
	err := run(ctx, nil, re)
	if err == nil {
		t.Fatal("run returned nil; want a start-up error")
	}
	return err
}

// A second chatd on a taken chat port or on a data dir in use must not
// start: sharing the port split live connections between two processes
// (pushes went missing), sharing the directory mixes their files.
func TestSecondChatdOnSamePortOrDataDirFails(t *testing.T) {
	dir := t.TempDir()
	first := startChatd(t, map[string]string{"CHATD_DATA_DIR": dir})
	chatAddr := first.at.Chat.String()

	err := runToFailure(t, map[string]string{"CHATD_DATA_DIR": t.TempDir(), "CHATD_CHAT_ADDR": chatAddr, "CHATD_FILE_ADDR": "127.0.0.1:0"})
	if msg := err.Error(); !strings.Contains(msg, chatAddr) || !strings.Contains(msg, "another chatd") {
		t.Errorf("second chatd on chat port %s: %q; want the port named and another chatd suspected", chatAddr, msg)
	}

	err = runToFailure(t, map[string]string{"CHATD_DATA_DIR": dir, "CHATD_CHAT_ADDR": "127.0.0.1:0", "CHATD_FILE_ADDR": "127.0.0.1:0"})
	pid := "pid " + strconv.Itoa(os.Getpid())
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "in use by another chatd") || !strings.Contains(msg, pid) {
		t.Errorf("second chatd on data dir %s: %q; want the dir, 'in use by another chatd' and %q", dir, msg, pid)
	}

	// Once the first stops, the directory is free again.
	first.stop(t)
	startChatd(t, map[string]string{"CHATD_DATA_DIR": dir}).stop(t)
}

// A data dir chatd cannot write must stop it at start with the path and
// the problem, also on MySQL (files and the token key live there).
func TestUnwritableDataDirIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, problem string }{
		// /sys refuses new files even to root, whom modes do not stop.
		{"/sys", "is not writable: permission denied"},
		{filepath.Join(file, "data"), "cannot create it"},
	} {
		err := runToFailure(t, map[string]string{"CHATD_DATA_DIR": tc.dir, "CHATD_MYSQL_DSN": "u:p@tcp(127.0.0.1:1)/never_reached", "CHATD_CHAT_ADDR": "127.0.0.1:0", "CHATD_FILE_ADDR": "127.0.0.1:0"})
		if msg := err.Error(); !strings.Contains(msg, "data dir "+tc.dir) || !strings.Contains(msg, tc.problem) || !strings.Contains(msg, "uploaded files") {
			t.Errorf("data dir %s: %q; want the path, %q and what the dir is for", tc.dir, msg, tc.problem)
		}
	}
}
