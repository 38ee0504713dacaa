package main

import (
	"context"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/servicetest"
)

var updateScreen = flag.Bool("update-screen", false, "write the main screen capture to docs/chat-screen.txt")

// startChatd runs a real chatd in-process and returns its chat address.
func startChatd(t *testing.T) string {
	t.Helper()
	return servicetest.Start(t).ChatAddr
}

// sdkLogin dials addr as device and logs name in, registering it first
// when register is set; the caller closes the client.
func sdkLogin(ctx context.Context, t *testing.T, addr, name, device string, register bool) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, addr, client.Options{Device: device, OnPush: func(client.Push) {}})
	if err != nil {
		t.Fatal(err)
	}
	if register {
		if _, err := c.Register(ctx, name, "password-"+name, ""); err != nil {
			_ = c.Close()
			t.Fatal(err)
		}
	}
	if _, err := c.Login(ctx, name, "password-"+name); err != nil {
		_ = c.Close()
		t.Fatal(err)
	}
	return c
}

// friends registers two users who are friends of each other.
func friends(t *testing.T, addr, a, b string) (int64, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca := sdkLogin(ctx, t, addr, a, "", true)
	defer ca.Close()
	cb := sdkLogin(ctx, t, addr, b, "", true)
	defer cb.Close()
	befriend(ctx, t, ca, cb)
	return ca.UserID(), cb.UserID()
}

// befriend has from ask to for friendship and to accept.
func befriend(ctx context.Context, t *testing.T, from, to *client.Client) {
	t.Helper()
	req, err := from.FriendRequest(ctx, to.UserID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := to.FriendRespond(ctx, req, true); err != nil {
		t.Fatal(err)
	}
}

// tmux drives terminal sessions on a private tmux server.
type tmux struct {
	t    *testing.T
	sock string
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.sock}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (x *tmux) capture(target string) string {
	return x.run("capture-pane", "-p", "-t", target)
}

// waitFor polls the pane until it shows every want.
func (x *tmux) waitFor(target string, wants ...string) string {
	x.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := x.capture(target)
		ok := true
		for _, w := range wants {
			if !strings.Contains(screen, w) {
				ok = false
			}
		}
		if ok {
			return screen
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("pane %s never showed %q; it shows:\n%s", target, wants, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (x *tmux) typeText(target, text string) { x.run("send-keys", "-t", target, "-l", text) }
func (x *tmux) key(target, k string)         { x.run("send-keys", "-t", target, k) }

// TestTmuxTwoUsersExchangeMessages drives the real chat binary in two
// tmux panes (80x24) against an in-process chatd: both log in, alice
// sends, bob sees it and answers, alice sees the answer and the read mark.
func TestTmuxTwoUsersExchangeMessages(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is required in CI for the terminal end-to-end test")
		}
		t.Skip("tmux not installed: skipping the terminal end-to-end test (install tmux to run it)")
	}
	addr := startChatd(t)
	_, bobID := friends(t, addr, "alice", "bob")
	decorate(t, addr, bobID)

	dir := t.TempDir()
	bin := filepath.Join(dir, "chat")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build chat: %v\n%s", err, out)
	}
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	start := func(name string) {
		cfg := filepath.Join(dir, name+"-config")
		cmd := "env NO_COLOR=1 XDG_CONFIG_HOME=" + cfg + " " + bin + " --server " + addr
		x.run("new-session", "-d", "-s", name, "-x", "80", "-y", "24", cmd)
	}
	start("alice")
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	start("bob")

	for _, u := range []string{"alice", "bob"} {
		x.waitFor(u, "chat — log in", "Server:   "+addr)
		x.typeText(u, u)
		x.key(u, "Tab")
		x.typeText(u, "password-"+u)
		x.key(u, "Enter")
	}
	x.waitFor("alice", "alice @ "+addr+" · connected", "Friends", "● bob", "○ carol (2)", "# team",
		"? dave (request)")
	x.waitFor("bob", "bob @ "+addr+" · connected", "● alice")

	// alice opens bob (selected: online friends come first) and sends.
	x.key("alice", "Enter")
	x.waitFor("alice", "bob · online")
	x.typeText("alice", "hello from alice")
	x.key("alice", "Enter")
	x.waitFor("alice", "me: hello from alice ✓")

	// bob sees the unread count, opens the conversation and answers.
	x.waitFor("bob", "● alice (1)")
	x.key("bob", "Enter")
	x.waitFor("bob", "alice: hello from alice")
	x.typeText("bob", "hi alice, got it")
	x.key("bob", "Enter")
	x.waitFor("bob", "me: hi alice, got it ✓")

	x.waitFor("alice", "bob: hi alice, got it", "me: hello from alice ✓✓")

	// Typing shows in the other's conversation header; the message ends it.
	// The server pushes one typing notice per user and conversation in
	// 3 s (protocol 1.1 section 14): let the window of bob's last typing
	// pass, or this notice is (rightly) swallowed.
	time.Sleep(3500 * time.Millisecond)
	x.typeText("bob", "one more thing")
	x.waitFor("alice", "bob is typing…")
	x.key("bob", "Enter")
	x.waitFor("alice", "bob: one more thing")

	// Search finds bob's answer; enter opens it picked.
	x.typeText("alice", "/search got it")
	x.key("alice", "Enter")
	x.waitFor("alice", `Search "got it": 1 results`, "bob: hi alice, got it")
	x.key("alice", "Enter")
	x.waitFor("alice", "▶", "focus: MESSAGES")

	// alice recalls her message; bob sees it recalled. (tab leaves the
	// picked message for the input line.)
	x.key("alice", "Tab")
	x.waitFor("alice", "focus: INPUT")
	x.typeText("alice", "/recall")
	x.key("alice", "Enter")
	x.waitFor("alice", "message recalled", "me: (recalled)")
	x.waitFor("bob", "alice: (recalled)")

	// The layout follows a resize of the terminal.
	x.run("resize-window", "-t", "alice", "-x", "120", "-y", "40")
	wide := x.waitFor("alice", "bob: hi alice, got it")
	deadline := time.Now().Add(10 * time.Second)
	for !hasLineOfWidth(wide, "── focus:", 120) {
		if time.Now().After(deadline) {
			t.Fatalf("no 120-column rule after the resize:\n%s", wide)
		}
		time.Sleep(100 * time.Millisecond)
		wide = x.capture("alice")
	}
	if n := len(strings.Split(strings.TrimRight(wide, "\n"), "\n")); n != 40 {
		t.Fatalf("%d lines after resizing to 40", n)
	}
	x.run("resize-window", "-t", "alice", "-x", "80", "-y", "24")
	screen := x.waitFor("alice", "bob: hi alice, got it")

	// The session token was remembered with mode 0600.
	st, err := os.Stat(filepath.Join(dir, "alice-config", "chatd", "tokens.json"))
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", st.Mode().Perm())
	}
	if *updateScreen {
		// Replace the random port so the capture is stable.
		screen = strings.ReplaceAll(screen, addr, "localhost:9000")
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "chat-screen.txt"), []byte(screen), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x.key("alice", "C-c")
	x.key("bob", "C-c")
}

// hasLineOfWidth reports whether screen has a line starting with prefix
// exactly width cells wide.
func hasLineOfWidth(screen, prefix string, width int) bool {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(l, prefix) && utf8.RuneCountInString(l) == width {
			return true
		}
	}
	return false
}

// decorate gives alice more to show: carol (a friend, offline) left two
// messages, alice owns a group "team" with bob and carol, and dave's
// friend request waits.
func decorate(t *testing.T, addr string, bobID int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := sdkLogin(ctx, t, addr, "alice", "", false)
	defer alice.Close()
	carol := sdkLogin(ctx, t, addr, "carol", "", true)
	defer carol.Close()
	dave := sdkLogin(ctx, t, addr, "dave", "", true)
	defer dave.Close()
	befriend(ctx, t, carol, alice)
	for _, text := range []string{"are you coming tonight?", "bring the slides"} {
		if _, err := carol.Send(ctx, alice.UserID(), text); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.GroupCreate(ctx, "team", []int64{bobID, carol.UserID()}); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.FriendRequest(ctx, alice.UserID(), "met at the conference"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.UpdateProfile(ctx, protocol.ProfileUpdateReq{Signature: ptr("shipping v1")}); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestSendAndTail runs the non-interactive commands against chatd: tail
// prints what send sent, as JSON, and the remembered-token path works.
func TestSendAndTail(t *testing.T) {
	addr := startChatd(t)
	_, bobID := friends(t, addr, "alice", "bob")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())

	// bob tails with --user; alice sends with --user.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Setenv("CHAT_PASSWORD", "password-bob")
	out := &lockedBuffer{}
	done := make(chan error, 1)
	tokens := mustTokens(t)
	go func() {
		done <- runTail(ctx, globals{server: addr, user: "bob"}, tokens, []string{"--json"}, out, out)
	}()
	// Wait until bob is logged in (his session shows up as presence for
	// alice's friend list) before sending.
	waitOnline(t, addr, bobID)

	t.Setenv("CHAT_PASSWORD", "password-alice")
	var sendOut lockedBuffer
	if err := run([]string{"--server", addr, "--user", "alice", "send", "--to", "bob", "hi", "there"}, &sendOut, &sendOut); err != nil {
		t.Fatalf("send: %v (%s)", err, sendOut.String())
	}
	if !strings.Contains(sendOut.String(), "seq 1") {
		t.Fatalf("send printed %q", sendOut.String())
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), `"body":"hi there"`) {
		if time.Now().After(deadline) {
			t.Fatalf("tail printed %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), `"from_name":"alice"`) {
		t.Fatalf("tail line lacks the sender name: %s", out.String())
	}

	// To a group, by id, through a --server list of two nodes whose
	// first refuses connections: the client skips it.
	gid := createGroup(t, addr, "alice", bobID)
	sendOut = lockedBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	if err := run([]string{"--server", down + "," + addr, "--user", "alice", "send", "--group", strconv.FormatInt(gid, 10), "to", "the", "group"}, &sendOut, &sendOut); err != nil {
		t.Fatalf("send to group: %v (%s)", err, sendOut.String())
	}
	if !strings.Contains(sendOut.String(), "sent g:"+strconv.FormatInt(gid, 10)+" seq 1") {
		t.Fatalf("send printed %q", sendOut.String())
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), `"conv":"g:`+strconv.FormatInt(gid, 10)+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("tail printed %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A second tail with the same device takes the session over: the
	// first one stops with an explanation instead of hanging.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	t.Setenv("CHAT_PASSWORD", "password-bob")
	first := make(chan error, 1)
	go func() {
		first <- runTail(ctx2, globals{server: addr, user: "bob"}, tokens, nil, io.Discard, io.Discard)
	}()
	waitOnline(t, addr, bobID)
	second := make(chan error, 1)
	go func() {
		second <- runTail(ctx2, globals{server: addr, user: "bob"}, tokens, nil, io.Discard, io.Discard)
	}()
	select {
	case err := <-first:
		if err == nil || !strings.Contains(err.Error(), "login elsewhere") {
			t.Fatalf("first tail ended with %v", err)
		}
	case err := <-second:
		if err == nil || !strings.Contains(err.Error(), "login elsewhere") {
			t.Fatalf("second tail ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("neither tail noticed the takeover")
	}
	cancel2()

	// Without --user and without a remembered session, send explains.
	err = run([]string{"--server", addr, "send", "--to", "bob", "x"}, &sendOut, &sendOut)
	if err == nil || !strings.Contains(err.Error(), "no session remembered") {
		t.Fatalf("want a no-session error, got %v", err)
	}
}

// createGroup makes a group owned by owner with member in it.
func createGroup(t *testing.T, addr, owner string, member int64) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdkLogin(ctx, t, addr, owner, "setup", false)
	defer c.Close()
	g, err := c.GroupCreate(ctx, "team", []int64{member})
	if err != nil {
		t.Fatal(err)
	}
	return g.GroupID
}

func waitOnline(t *testing.T, addr string, user int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdkLogin(ctx, t, addr, "alice", "", false)
	defer c.Close()
	for {
		fs, err := c.Friends(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Profile.UserID == user && f.Online {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("user never came online")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
