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
)

// loginTUI starts a UI against addr and logs name in through the form.
func loginTUI(t *testing.T, addr, name string) *driver {
	t.Helper()
	d := newDriver(t, New(Options{Server: addr, Device: "tui", NoColor: true, Location: time.UTC}))
	d.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	d.keys(name, "tab", "password-"+name, "enter")
	d.waitScreen(name + " @ " + addr + " · connected")
	return d
}

// befriendSDK makes two SDK users friends.
func befriendSDK(ctx context.Context, t *testing.T, a, b *client.Client) {
	t.Helper()
	id, err := a.FriendRequest(ctx, b.UserID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.FriendRespond(ctx, id, true); err != nil {
		t.Fatal(err)
	}
}

// TestFilesFromHistoryAndGet: a file sent while the user was away shows
// with its name and size (learned through file.fetch); /get into a
// directory saves under that name, a second /get picks a new name instead
// of overwriting, and the status line says where each went. A room
// joiner sees the room's name.
func TestFilesFromHistoryAndGet(t *testing.T) {
	addr := startChatd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := sdkUser(t, addr, "alice")
	bob := sdkUser(t, addr, "bob")
	befriendSDK(ctx, t, alice, bob)
	dir := t.TempDir()
	src := filepath.Join(dir, "from-bob.txt")
	if err := os.WriteFile(src, []byte("bob's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	fid, err := bob.SendFile(ctx, client.Target{User: alice.UserID()}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = alice.Close()

	d := loginTUI(t, addr, "alice")
	d.keys("enter") // bob: the only friend
	fs := strconv.FormatInt(fid, 10)
	d.waitScreen("bob: [file from-bob.txt, 10 B] /get " + fs)

	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	d.keys("/get "+fs+" "+out, "enter")
	d.waitScreen("downloading from-bob.txt: saved to " + filepath.Join(out, "from-bob.txt"))
	d.keys("/get "+fs+" "+out, "enter")
	d.waitScreen("(1).txt")
	if want := "saved to " + filepath.Join(out, "from-bob (1).txt"); !strings.Contains(d.m.notice, want) {
		t.Fatalf("notice %q, want %q", d.m.notice, want)
	}
	for _, name := range []string{"from-bob.txt", "from-bob (1).txt"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != "bob's file" {
			t.Fatalf("%s: %q %v", name, b, err)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Fatalf("%d files in the directory, want 2 (no .part left)", len(entries))
	}
	d.keys("/get "+fs+" "+filepath.Join(dir, "nowhere", "x.txt"), "enter")
	d.waitScreen("downloading from-bob.txt failed: no directory")

	room, err := bob.RoomCreate(ctx, "standup")
	if err != nil {
		t.Fatal(err)
	}
	d.keys("/room join "+strconv.FormatInt(room, 10), "enter")
	d.waitScreen("@ standup (room "+strconv.FormatInt(room, 10)+", live)", "(2 members)")
}
