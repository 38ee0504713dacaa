//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/chatd/chatd/store/mysqltest"
)

// TestChatFailoverOnKill runs the chat scenario against two chatd nodes of
// one cluster (--addr a,b): first with both up, where every message must
// be pushed (no catch-up sync runs without a fail-over), then killing
// node a with SIGKILL while messages flow: the users that were on a fail
// over to b, and the ledger still finds every acknowledged message
// delivered exactly once.
func TestChatFailoverOnKill(t *testing.T) {
	dsn := mysqltest.DSN(t, "benchfailover")
	a, b := clustertest.StartPair(t, dsn)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Both nodes up: partners on different nodes, both sending.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"chatbench", "--quiet", "--accounts", "",
		"--addr", a.Addr + "," + b.Addr, "chat", "--pairs", "10", "--inflight", "4", "--duration", "2s", "--drain", "5s"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("both nodes up: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()

	var stored int
	if err := db.QueryRow("SELECT COUNT(*) FROM messages").Scan(&stored); err != nil {
		t.Fatal(err)
	}

	jsonPath := filepath.Join(t.TempDir(), "r.json")
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"chatbench", "--quiet", "--accounts", "", "--json", jsonPath,
			"--addr", a.Addr + "," + b.Addr, "chat", "--pairs", "4", "--inflight", "2", "--duration", "6s"}, nil, &stdout, &stderr)
	}()
	// Kill node a once the load is under way (messages are being stored).
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM messages").Scan(&n); err == nil && n >= stored+100 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("chatbench ended (exit %d) before the kill\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := a.Signal(t, syscall.SIGKILL); err == nil {
		t.Fatal("node a exited 0 after SIGKILL")
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("chatbench did not finish")
	}
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	rep, err := report.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	acc := rep.Accounting
	if acc == nil || acc.Acked == 0 || !acc.OK() || acc.Delivered != acc.Expected {
		t.Fatalf("accounting = %+v\n%s", acc, stdout.String())
	}
	moved := -1.0
	for _, f := range rep.Figures {
		if f.Name == "clients that failed over to another node" {
			moved = f.Value
		}
	}
	if moved < 1 {
		t.Fatalf("clients that failed over = %v, want the users of node a\n%s", moved, stdout.String())
	}
	t.Logf("\n%s", stdout.String())
}

// TestConnectOverNodesMemoryPerSession runs the connect scenario against
// two nodes with --admin naming one of them: the memory figures are that
// node's, so its growth is divided by the sessions it holds (half of
// them), not by every session of the run, which made the figure per
// session look half as big as it is (a third with three nodes).
func TestConnectOverNodesMemoryPerSession(t *testing.T) {
	dsn := mysqltest.DSN(t, "benchconnectnodes")
	a, b := clustertest.StartPair(t, dsn)
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"chatbench", "--quiet", "--accounts", "", "--json", jsonPath,
		"--addr", a.Addr + "," + b.Addr, "--admin", a.Admin, "connect", "--conns", "40", "--users", "2", "--hold", "500ms", "--settle", "0"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	rep, err := report.ReadJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	fig := map[string]float64{}
	for _, f := range rep.Figures {
		fig[f.Name] = f.Value
	}
	if got := fig["chatd sessions reported"]; got != 20 {
		t.Fatalf("node a reports %v sessions, want 20 of 40\n%s", got, stdout.String())
	}
	growth := (fig["chatd RSS at the end of the hold (settled)"] - fig["chatd RSS before (baseline)"]) * (1 << 20)
	if per, want := fig["chatd RSS per session (growth over the baseline)"], growth/20; math.Abs(per-want) > 1 {
		t.Fatalf("RSS per session = %.0f B, want node a's growth over its 20 sessions = %.0f B\n%s", per, want, stdout.String())
	}
}
