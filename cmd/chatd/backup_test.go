package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// runCmd runs one chatd command with env and returns its stdout and error.
func runCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	full := map[string]string{"CHATD_LOG_LEVEL": "disabled"}
	for k, v := range env {
		full[k] = v
	}
	re, stdout, _ := testEnv(full)
	err := run(context.Background(), args, re)
	return stdout.String(), err
}

// A backup taken while chatd serves restores, with chatd stopped, to what
// was stored before it; restore refuses to run under a serving chatd.
func TestBackupWhileServingThenRestore(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CHATD_DATA_DIR": dir}
	d := startChatd(t, env)
	c := dialChat(t, d.at.Chat)
	register := func(user string) {
		if got := code(t, c.call(protocol.OpRegister, &protocol.RegisterReq{Username: user, Password: "correct horse"})); got != "OK" {
			t.Fatalf("register %s: %s", user, got)
		}
	}
	register("kept_user")
	out := filepath.Join(t.TempDir(), "chatd.backup")
	if printed, err := runCmd(t, env, "backup", "--out", out); err != nil || !strings.Contains(printed, "backed up") || !strings.Contains(printed, "uploaded files") {
		t.Fatalf("backup while serving: %q, %v", printed, err)
	}
	register("lost_user")
	if _, err := runCmd(t, env, "restore", "--from", out); err == nil || !strings.Contains(err.Error(), "chatd stopped") {
		t.Fatalf("restore while serving: %v; want a refusal saying chatd must be stopped", err)
	}
	d.stop(t)

	printed, err := runCmd(t, env, "restore", "--from", out)
	if err != nil || !strings.Contains(printed, "kept as") {
		t.Fatalf("restore: %q, %v", printed, err)
	}
	d = startChatd(t, env)
	c = dialChat(t, d.at.Chat)
	for user, want := range map[string]string{"kept_user": "OK", "lost_user": "BAD_CREDENTIALS"} {
		if got := code(t, c.call(protocol.OpLogin, &protocol.LoginReq{Username: user, Password: "correct horse"})); got != want {
			t.Errorf("login %s after restore: %s, want %s", user, got, want)
		}
	}
}

func TestBackupCommandErrors(t *testing.T) {
	mysql := map[string]string{"CHATD_MYSQL_DSN": "u:p@tcp(127.0.0.1:1)/never_reached"}
	for _, tc := range []struct {
		env   map[string]string
		args  []string
		want  string
		usage bool
	}{
		{nil, []string{"backup"}, "--out FILE", true},
		{nil, []string{"restore"}, "--from FILE", true},
		{nil, []string{"backup", "--out", "a", "b"}, `unexpected argument "b"`, true},
		{mysql, []string{"backup", "--out", "x"}, "mariadb-dump", false},
		{mysql, []string{"restore", "--from", "x"}, "mariadb-dump", false},
	} {
		_, err := runCmd(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
			t.Errorf("%q: %v; want %q (usage error: %v)", tc.args, err, tc.want, tc.usage)
		}
	}
}
