package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatd/chatd/bench/report"
)

// TestWorkersEndToEnd builds chatbench and runs the connect scenario with
// two worker processes on their own source addresses against the
// in-process chatd: the parent must merge both workers' counts and
// histograms.
func TestWorkersEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "chatbench")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	jsonPath := filepath.Join(dir, "r.json")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--quiet", "--workers", "2", "--json", jsonPath, "connect", "--conns", "60", "--users", "2", "--hold", "500ms", "--settle", "0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	rep, err := report.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Latency["connect+login"].Count; got != 60 {
		t.Fatalf("merged histogram holds %d connections, want 60", got)
	}
	for _, f := range rep.Figures {
		if f.Name == "connections open after ramp" && f.Value != 60 {
			t.Fatalf("open = %v", f.Value)
		}
	}
	if !strings.Contains(stdout.String(), "2 worker processes, source addresses 127.0.0.2..127.0.0.3") {
		t.Fatalf("table lacks the workers note:\n%s", stdout.String())
	}
}

// TestCrashEndToEnd builds chatd and runs the crash scenario briefly: chatd
// is killed with SIGKILL during the sends and restarted, and every
// acknowledged message must be delivered once and stored once.
func TestCrashEndToEnd(t *testing.T) {
	dir := t.TempDir()
	chatd := filepath.Join(dir, "chatd")
	build := exec.Command("go", "build", "-o", chatd, "../chatd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build chatd: %v\n%s", err, out)
	}
	jsonPath := filepath.Join(dir, "r.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"chatbench", "--quiet", "--json", jsonPath, "crash", "--chatd", chatd,
		"--pairs", "2", "--duration", "3s", "--kill-after", "1s", "--down", "300ms"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	rep, err := report.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accounting
	if a == nil || a.Acked == 0 || !a.OK() || a.Delivered != a.Expected {
		t.Fatalf("accounting = %+v", a)
	}
	var reconnects float64 = -1
	for _, f := range rep.Figures {
		if f.Name == "client reconnects after the kill" {
			reconnects = f.Value
		}
		if f.Goal == "== 0" && f.Value != 0 {
			t.Errorf("%s = %v", f.Name, f.Value)
		}
	}
	if reconnects < 4 {
		t.Fatalf("reconnects = %v, want every client (4) back after the restart", reconnects)
	}
}
