//go:build unix

package clustertest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildChatd builds the chatd command into tb's temporary directory and
// returns the binary's path, for tests that run nodes as processes (so a
// node can be killed with SIGKILL or stopped with SIGTERM).
func BuildChatd(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "chatd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/chatd/chatd/cmd/chatd").CombinedOutput()
	if err != nil {
		tb.Fatalf("clustertest: go build chatd: %v\n%s", err, out)
	}
	return bin
}

// Chatd is a chatd process running as one node of a test cluster.
type Chatd struct {
	// ID is the node id, Addr its chat port, Log the file its log goes to.
	ID, Addr, Log string
	// Admin is the admin listener's base URL (http://host:port), set only
	// for a node started with StartChatdAdmin.
	Admin string

	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
}

// StartChatd starts bin as node id of the cluster that shares the MySQL
// database dsn and the NATS server nats, on loopback ports with the
// message rate limit lifted, and returns once it serves. The process is
// killed when tb ends, and its log shown if tb failed.
func StartChatd(tb testing.TB, bin, dsn, nats, id string) *Chatd {
	tb.Helper()
	return startChatd(tb, bin, dsn, nats, id, "")
}

// StartChatdAdmin is StartChatd with the admin listener (/metrics,
// /debug/pprof) on a loopback port, named by the node's Admin.
func StartChatdAdmin(tb testing.TB, bin, dsn, nats, id string) *Chatd {
	tb.Helper()
	return startChatd(tb, bin, dsn, nats, id, "127.0.0.1:0")
}

// StartPair builds chatd and starts two nodes of one cluster, "a" (with
// the admin listener) and "b", sharing the MySQL database dsn and an
// embedded NATS server: the setup of every two-process cluster test.
func StartPair(tb testing.TB, dsn string) (a, b *Chatd) {
	tb.Helper()
	nats := Embedded(tb).URL()
	bin := BuildChatd(tb)
	return StartChatdAdmin(tb, bin, dsn, nats, "a"), StartChatd(tb, bin, dsn, nats, "b")
}

func startChatd(tb testing.TB, bin, dsn, nats, id, admin string) *Chatd {
	tb.Helper()
	dir := tb.TempDir()
	n := &Chatd{ID: id, Log: filepath.Join(dir, "chatd.log"), exited: make(chan struct{})}
	logf, err := os.Create(n.Log)
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	n.cmd = exec.Command(bin, "--chat-addr", "127.0.0.1:0", "--file-addr", "127.0.0.1:0", "--discovery-addr=", "--admin-addr="+admin, "--web-addr=",
		"--data-dir", filepath.Join(dir, "data"), "--mysql-dsn", dsn, "--cluster-nats", nats, "--node-id", id,
		"--msg-rate", "1000000", "--msg-burst", "1000000", "--log-format", "json", "--log-level", "info")
	// Every node of a cluster needs the same file secret.
	n.cmd.Env = append(os.Environ(), "CHATD_FILE_SECRET=clustertest-file-secret")
	n.cmd.Stderr = logf
	// A pipe of our own, not StdoutPipe: Wait runs in the background and
	// must not close what is still being read.
	stdout, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	n.cmd.Stdout = w
	err = n.cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		tb.Fatal(err)
	}
	go func() { n.exitErr = n.cmd.Wait(); close(n.exited) }()
	tb.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
		if tb.Failed() {
			b, _ := os.ReadFile(n.Log)
			tb.Logf("node %s log (tail):\n%s", id, tail(string(b), 40))
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "chat" {
			n.Addr = f[1]
		}
		if len(f) >= 2 && f[0] == "admin" && strings.HasPrefix(f[1], "http://") {
			n.Admin = strings.TrimSuffix(f[1], "/metrics")
		}
		if len(f) >= 1 && f[0] == "store" {
			break // the last line of the listening report
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout); stdout.Close() }()
	if n.Addr == "" {
		<-n.exited
		b, _ := os.ReadFile(n.Log)
		tb.Fatalf("clustertest: node %s printed no chat address; log:\n%s", id, b)
	}
	return n
}

// Signal sends sig to the node and waits for the process to end; it
// returns how it ended (nil: exit status 0).
func (n *Chatd) Signal(tb testing.TB, sig syscall.Signal) error {
	tb.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		tb.Fatalf("clustertest: node %s still running 30 s after %v", n.ID, sig)
	}
	return n.exitErr
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
