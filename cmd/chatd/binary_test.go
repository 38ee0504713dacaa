//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// TestBinaryExitsZeroOnSIGTERM builds the real command, runs it, pings it
// over TCP, sends SIGTERM and expects a clean exit 0: what a process
// supervisor sees.
func TestBinaryExitsZeroOnSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "chatd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, bin, "--chat-addr", "127.0.0.1:0", "--file-addr", "127.0.0.1:0", "--discovery-addr=", "--admin-addr=", "--web-addr=", "--log-format", "json")
	cmd.Env = append(os.Environ(), "CHATD_DATA_DIR="+t.TempDir(), "CHATD_LOG_LEVEL=info")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	var chatAddr string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "chat" {
			chatAddr = f[1]
		}
		if len(f) >= 1 && f[0] == "store" {
			break // the last line of the listening report
		}
	}
	if chatAddr == "" {
		cmd.Wait()
		t.Fatalf("no chat address printed; stderr:\n%s", stderr.String())
	}

	c, err := net.DialTimeout("tcp", chatAddr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame, _ := protocol.AppendJSONFrame(nil, protocol.OpPing, 1, &protocol.PingReq{})
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no ping reply: %v", err)
	}
	if h, body, _, err := protocol.Decode(buf[:n], 1<<20); err != nil || h.Op != protocol.OpPing || !bytes.Contains(body, []byte(`"OK"`)) {
		t.Fatalf("ping reply %q: %v", buf[:n], err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", exit.ExitCode(), stderr.String())
	} else if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "shutdown complete") {
		t.Fatalf("stderr lacks the shutdown line:\n%s", stderr.String())
	}
}
