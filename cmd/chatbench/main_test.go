package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/bench/chatload"
	"github.com/chatd/chatd/bench/chatload/inproc"
	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/devcert"
)

// TestChatInProcess runs the chat scenario against an in-process chatd
// for a second and checks that messages flowed and were all accounted for.
func TestChatInProcess(t *testing.T) {
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"chatbench", "--quiet", "--json", jsonPath, "--svg", svgPath,
		"chat", "--pairs", "2", "--duration", "1s", "--inflight", "2"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	a := rep.Accounting
	if a == nil || a.Acked == 0 || a.Delivered != a.Expected || a.Expected != a.Acked || !a.OK() {
		t.Fatalf("accounting = %+v", a)
	}
	if rep.Latency["push"].Count != a.Delivered {
		t.Fatalf("push latency count %d, delivered %d", rep.Latency["push"].Count, a.Delivered)
	}
	if !strings.Contains(stdout.String(), "OK: nothing lost or duplicated") {
		t.Fatalf("table lacks the verdict:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"chatbench", "summary", jsonPath}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "| chat | lost messages | 0 msgs | == 0 | met |") {
		t.Fatalf("summary: exit %d:\n%s", code, stdout.String())
	}
	if svg, err := os.ReadFile(svgPath); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
		t.Fatalf("chart missing or empty: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"chatbench"},
		{"chatbench", "nosuch"},
		{"chatbench", "chat", "--nosuchflag"},
		{"chatbench", "chat", "extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"chatbench", "-h"}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "mixed") {
		t.Errorf("help: exit %d: %s", code, out.String())
	}
}

// TestScenariosInProcess runs every other scenario briefly against an
// in-process chatd and checks that each verified its deliveries.
func TestScenariosInProcess(t *testing.T) {
	for _, args := range [][]string{
		{"group", "--groups", "2", "--members", "4", "--senders", "1", "--devices", "2", "--duration", "500ms"},
		{"group", "--groups", "1", "--members", "4", "--senders", "2", "--mentions", "2", "--reply", "--duration", "500ms"},
		{"group", "--groups", "1", "--members", "4", "--senders", "1", "--devices", "2", "--receiver-loops=false", "--duration", "500ms"},
		{"room", "--members", "6", "--users", "3", "--fps", "20", "--duration", "500ms", "--says", "2"},
		{"offline", "--pairs", "2", "--per-user", "5"},
		{"mixed", "--pairs", "3", "--group-members", "3", "--duration", "2s", "--churn", "0.5", "--rate-per-user", "10"},
		{"connect", "--conns", "40", "--users", "2", "--hold", "500ms", "--settle", "0"},
		{"files", "--pairs", "1", "--size-mb", "1", "--rounds", "1", "--chat-pairs", "1", "--chat-rate", "20", "--quiet", "500ms"},
	} {
		t.Run(args[0], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"chatbench", "--quiet", "--json", path}, args...), nil, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			rep, err := report.ReadJSON(path)
			if err != nil {
				t.Fatal(err)
			}
			if a := rep.Accounting; a != nil && (a.Delivered == 0 || !a.OK()) {
				t.Fatalf("accounting = %+v", a)
			}
			if len(rep.Figures) == 0 {
				t.Fatal("no figures")
			}
			names := map[string]bool{}
			for _, f := range rep.Figures {
				names[f.Name] = true
				if f.Goal == "== 0" && f.Met != nil && !*f.Met {
					t.Errorf("%s = %v", f.Name, f.Value)
				}
			}
			if args[0] == "files" && (!names["chat push latency p99 before the transfers (quiet)"] || !names["chat p99 during transfers / quiet p99"]) {
				t.Errorf("files: no quiet p99 or ratio among %v", names)
			}
		})
	}
}

// TestAccountsRecorded runs the chat scenario against a chatd given by
// --addr, which outlives the run: the accounts it made must be in the
// --accounts file and the table must say where.
func TestAccountsRecorded(t *testing.T) {
	srv, err := inproc.Start(context.Background(), inproc.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "accounts.jsonl")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"chatbench", "--quiet", "--addr", srv.Addr, "--accounts", path,
		"chat", "--pairs", "1", "--duration", "300ms"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	recs, err := chatload.ReadAccounts(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(recs[0].Users) != 2 || recs[0].Addr != srv.Addr || !strings.HasPrefix(recs[0].Users[0], recs[0].Run+"_") {
		t.Fatalf("records = %+v", recs)
	}
	if !strings.Contains(stdout.String(), "the 2 accounts this run made on "+srv.Addr) || !strings.Contains(stdout.String(), path) {
		t.Fatalf("table does not say where the accounts are recorded:\n%s", stdout.String())
	}
}

// TestTransports runs the chat scenario (SDK clients) and the group
// scenario (bare connections) over TLS and WebSocket against a chatd with a
// certificate that --ca trusts: nothing may be lost or duplicated.
func TestTransports(t *testing.T) {
	cert, err := devcert.Generate(devcert.DefaultHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := cert.TLS()
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, cert.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := inproc.Start(context.Background(), inproc.Options{Logger: zerolog.Nop(),
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range [][]string{
		{"tls", "chat", "--pairs", "2", "--duration", "500ms", "--inflight", "2"},
		{"ws", "chat", "--pairs", "2", "--duration", "500ms", "--inflight", "2"},
		{"wss", "group", "--groups", "1", "--members", "3", "--senders", "1", "--devices", "2", "--duration", "500ms"},
	} {
		t.Run(tc[0]+"/"+tc[1], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			var stdout, stderr bytes.Buffer
			args := append([]string{"chatbench", "--quiet", "--addr", srv.Addr, "--admin", srv.AdminURL, "--accounts", "",
				"--transport", tc[0], "--ca", ca, "--json", path}, tc[1:]...)
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			rep, err := report.ReadJSON(path)
			if err != nil {
				t.Fatal(err)
			}
			if a := rep.Accounting; a == nil || a.Delivered == 0 || !a.OK() {
				t.Fatalf("accounting = %+v", a)
			}
		})
	}
}

// TestCleanupCommand runs the chat scenario against a chatd that outlives
// it, then `chatbench cleanup`: the run's accounts are deleted, the
// accounts file removed, and a second cleanup finds nothing.
func TestCleanupCommand(t *testing.T) {
	srv, err := inproc.Start(context.Background(), inproc.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "accounts.jsonl")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"chatbench", "--quiet", "--addr", srv.Addr, "--accounts", path,
		"chat", "--pairs", "1", "--duration", "300ms"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("chat: exit %d\n%s", code, stderr.String())
	}
	recs, err := chatload.ReadAccounts(path)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"chatbench", "--accounts", path, "cleanup", "extra"}, nil, &stdout, &stderr); code != exitUsage {
		t.Fatalf("cleanup extra: exit %d, want %d", code, exitUsage)
	}
	if code := run(context.Background(), []string{"chatbench", "--log-level", "disabled", "--accounts", path, "cleanup"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("cleanup: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "deleted 2 account(s) recorded in "+path) || !strings.Contains(stdout.String(), "removed "+path) {
		t.Fatalf("cleanup said:\n%s", stdout.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("accounts file still there: %v", err)
	}
	c, err := client.Dial(context.Background(), srv.Addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(context.Background(), recs[0].Users[0], "pw-"+recs[0].Run+"-chatbench"); protocol.CodeOf(err) != protocol.CodeBadCredentials {
		t.Fatalf("login of a cleaned-up account: %v, want BAD_CREDENTIALS", err)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"chatbench", "--accounts", path, "cleanup"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "deleted 0 account(s)") {
		t.Fatalf("cleanup without a file: exit %d, %q", code, stdout.String())
	}
}
