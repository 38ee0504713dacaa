package tui

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/cmd/chat/internal/config"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/servicetest"
)

// startChatd runs a real chatd in-process, with its file port, and
// returns its chat address.
func startChatd(t *testing.T) string {
	t.Helper()
	return servicetest.Start(t, servicetest.WithFiles()).ChatAddr
}

// driver runs a model the way the Bubble Tea runtime does: every command
// runs on its own goroutine and its message is fed back to Update on the
// test goroutine, so the model is only ever touched from one goroutine.
type driver struct {
	t    *testing.T
	m    *Model
	msgs chan tea.Msg
}

func newDriver(t *testing.T, m *Model) *driver {
	d := &driver{t: t, m: m, msgs: make(chan tea.Msg, 256)}
	d.run(m.Init())
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { d.msgs <- cmd() }()
}

func (d *driver) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil, tea.QuitMsg:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
		return
	}
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

func (d *driver) keys(keys ...string) {
	for _, k := range keys {
		switch k {
		case "enter":
			d.send(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "tab":
			d.send(tea.KeyPressMsg{Code: tea.KeyTab})
		case "down":
			d.send(tea.KeyPressMsg{Code: tea.KeyDown})
		case "up":
			d.send(tea.KeyPressMsg{Code: tea.KeyUp})
		case "pgup":
			d.send(tea.KeyPressMsg{Code: tea.KeyPgUp})
		case "ctrl+r":
			d.send(tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl})
		default:
			for _, r := range k {
				d.send(tea.KeyPressMsg{Code: r, Text: string(r)})
			}
		}
	}
}

// waitScreen processes messages until the screen shows every want.
func (d *driver) waitScreen(wants ...string) string {
	d.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s := screenText(d.m)
		ok := true
		for _, w := range wants {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if ok {
			return s
		}
		select {
		case msg := <-d.msgs:
			d.send(msg)
		case <-deadline:
			d.t.Fatalf("screen never showed %q:\n%s", wants, s)
		}
	}
}

// pump processes messages for a while.
func (d *driver) pump(dur time.Duration) {
	deadline := time.After(dur)
	for {
		select {
		case msg := <-d.msgs:
			d.send(msg)
		case <-deadline:
			return
		}
	}
}

// sdkUser is a second party driven through the SDK.
func sdkUser(t *testing.T, addr, name string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Register(ctx, name, "password-"+name, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, name, "password-"+name); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitSDKPush[T any](t *testing.T, c *client.Client) T {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case p := <-c.Pushes():
			if v, ok := p.Body.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T push", zero)
			return zero
		}
	}
}

// TestTUIAgainstChatd walks the UI through a real server: register via
// the form, add a friend by search, receive and answer messages, scroll
// back through history, create a group, set the signature and avatar,
// log out, and log in again with the remembered token on the next start.
func TestTUIAgainstChatd(t *testing.T) {
	addr := startChatd(t)
	tokens := config.Open(filepath.Join(t.TempDir(), "tokens.json"))
	opts := Options{Server: addr, Device: "tui", Tokens: tokens, NoColor: true, Location: time.UTC}
	d := newDriver(t, New(opts))
	d.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bob := sdkUser(t, addr, "bob")
	d.keys("ctrl+r", "alice", "tab", "password-alice", "tab", "password-alice", "enter")
	d.waitScreen("alice @ "+addr+" · connected", "Friends")
	if sess, ok, _ := tokens.Get(addr); !ok || sess.Username != "alice" {
		t.Fatalf("token not remembered: %+v", sess)
	}

	// Add bob by search; bob accepts through the SDK.
	d.keys("tab", "/add bob hello", "enter")
	d.waitScreen("friend request sent to bob")
	req := waitSDKPush[*protocol.FriendRequestedPush](t, bob)
	if req.Note != "hello" || req.From.Username != "alice" {
		t.Fatalf("request %+v", req)
	}
	if err := bob.FriendRespond(ctx, req.RequestID, true); err != nil {
		t.Fatal(err)
	}
	d.waitScreen("bob accepted your friend request", "● bob")

	// bob writes 60 messages: more than one history page.
	for i := 1; i <= 60; i++ {
		if _, err := bob.Send(ctx, d.m.me.UserID, "msg "+itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	d.waitScreen("● bob (60)")
	// The UI acked every pushed message (it holds them); wait until the
	// server's cursor shows it, then start a second UI with the
	// remembered token: nothing is pushed again, the conversation loads
	// its last page through msg.sync and older pages on scroll.
	probe, err := client.Dial(ctx, addr, client.Options{Device: "probe", OnPush: func(client.Push) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if _, err := probe.Login(ctx, "alice", "password-alice"); err != nil {
		t.Fatal(err)
	}
	for {
		convs, err := probe.Conversations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(convs) == 1 && convs[0].AckSeq == 60 {
			break
		}
		d.pump(20 * time.Millisecond) // the UI's ack commands still run
	}
	d = newDriver(t, New(opts)) // same device: the first UI is logged out
	d.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	d.waitScreen("alice @ "+addr+" · connected", "● bob (60)")
	if n := len(d.m.conv(protocol.PrivateConv(d.m.me.UserID, bob.UserID())).lines); n != 0 {
		t.Fatalf("%d messages pushed again although acked", n)
	}
	d.keys("enter")
	s := d.waitScreen("bob: msg 60", "[pgup: older]")
	if strings.Contains(s, "bob: msg 10 ") || len(d.m.convs[d.m.active].lines) != historyPage {
		t.Fatalf("first page should hold only the last %d messages:\n%s", historyPage, s)
	}
	// Scroll to the top: the older page loads through msg.sync.
	for i := 0; !strings.Contains(screenText(d.m), "bob: msg 1 "); i++ {
		if i == 100 {
			t.Fatalf("never scrolled to the first message:\n%s", screenText(d.m))
		}
		d.keys("pgup")
		d.pump(50 * time.Millisecond)
	}
	if n := len(d.m.convs[d.m.active].lines); n != 60 {
		t.Fatalf("%d lines after loading history", n)
	}
	// bob sees the read receipt for everything.
	rr := waitSDKPush[*protocol.ReadReceiptPush](t, bob)
	if rr.Seq < 1 {
		t.Fatalf("read receipt %+v", rr)
	}

	// alice answers; bob receives it.
	d.keys("answer from the tui", "enter")
	d.waitScreen("me: answer from the tui ✓")
	got := waitSDKPush[*protocol.MsgPush](t, bob)
	if got.Message.Body != "answer from the tui" {
		t.Fatalf("bob got %+v", got.Message)
	}
	// Writing moved alice's read cursor to her own message, so a later
	// login does not count it as unread.
	for i := 0; ; i++ {
		convs, err := probe.Conversations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(convs) == 1 && convs[0].ReadSeq == got.Message.Seq {
			break
		}
		if i == 200 {
			t.Fatalf("read cursor %+v, want %d", convs, got.Message.Seq)
		}
		d.pump(20 * time.Millisecond)
	}

	// Files both ways: /send with a progress bar, /get of bob's file.
	dir := t.TempDir()
	out := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(out, []byte(strings.Repeat("notes ", 50_000)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.keys("/send "+out, "enter")
	d.waitScreen("sending notes.txt: done")
	// The sender's own file message shows in the conversation.
	d.waitScreen("me: [file notes.txt, 293.0 KiB] /get")
	offer := waitSDKPush[*protocol.FileOfferedPush](t, bob)
	if offer.Name != "notes.txt" || offer.Size != 300_000 {
		t.Fatalf("bob was offered %+v", offer)
	}
	bobFile := filepath.Join(dir, "from-bob.txt")
	if err := os.WriteFile(bobFile, []byte("bob's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	fid, err := bob.SendFile(ctx, client.Target{User: d.m.me.UserID}, bobFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.waitScreen("/get " + strconv.FormatInt(fid, 10))
	dest := filepath.Join(dir, "saved.txt")
	d.keys("/get "+strconv.FormatInt(fid, 10)+" "+dest, "enter")
	d.waitScreen("downloading from-bob.txt: saved to " + dest)
	if b, err := os.ReadFile(dest); err != nil || string(b) != "bob's file" {
		t.Fatalf("downloaded %q, %v", b, err)
	}

	// A group with bob, a signature and an avatar.
	d.keys("/group crew bob", "enter")
	d.waitScreen("created group crew", "# crew")
	d.run(d.m.open(protocol.GroupConv(d.m.groups[len(d.m.groups)-1].GroupID)))
	d.keys("/members", "enter")
	d.waitScreen("crew: 2 members:", "alice (owner)")
	d.keys("/sig gone fishing", "enter")
	d.waitScreen("signature updated", "“gone fishing”")
	img := filepath.Join(t.TempDir(), "me.png")
	if err := os.WriteFile(img, []byte("\x89PNG\r\n\x1a\n fake image"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.keys("/avatar "+img, "enter")
	d.waitScreen("avatar updated (19 bytes)")
	p, err := bob.Profile(ctx, d.m.me.UserID)
	if err != nil || p.Profile.Signature != "gone fishing" || p.Avatar == "" {
		t.Fatalf("profile as bob sees it: %v %+v", err, p)
	}

	// Rooms: create one, bob joins and talks.
	d.keys("/room new standup", "enter")
	d.waitScreen("@ standup (room")
	roomID := d.m.activeRoom()
	if _, err := bob.RoomJoin(ctx, roomID); err != nil {
		t.Fatal(err)
	}
	if err := bob.RoomSay(ctx, roomID, "good morning"); err != nil {
		t.Fatal(err)
	}
	d.waitScreen("bob: good morning")

	// Profile of bob, then unfriend him.
	d.keys("/whois bob", "enter")
	d.waitScreen("bob (bob) #", "(no signature) · no avatar")
	d.run(d.m.open(protocol.PrivateConv(d.m.me.UserID, bob.UserID())))
	d.keys("/remove", "enter")
	d.waitScreen("bob is no longer a friend")
	removed := waitSDKPush[*protocol.FriendRemovedPush](t, bob)
	if removed.UserID != d.m.me.UserID {
		t.Fatalf("friend.removed %+v", removed)
	}
	for i := 0; strings.Contains(screenText(d.m), "● bob") || strings.Contains(screenText(d.m), "○ bob"); i++ {
		if i == 200 {
			t.Fatalf("bob still listed:\n%s", screenText(d.m))
		}
		d.pump(50 * time.Millisecond)
	}

	// Log out: back to the login screen, token forgotten.
	d.keys("/logout", "enter")
	d.waitScreen("chat — log in")
	if _, ok, _ := tokens.Get(addr); ok {
		t.Fatal("token still remembered after logout")
	}

	// Log in again with the password, quit, and start again: the
	// remembered token logs in without the form.
	d.keys("password-alice", "enter")
	d.waitScreen("alice @ " + addr + " · connected")
	d2 := newDriver(t, New(opts))
	d2.waitScreen("alice @ "+addr+" · connected", "# crew")
}

func itoa(i int) string { return strconv.Itoa(i) }
