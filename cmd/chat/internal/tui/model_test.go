package tui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// These tests drive the model the way Bubble Tea does (Update with
// messages, then View) and check the rendered text. Commands that would
// talk to a server are not run: there is no client in these tests, and
// the model builds no network command without one.

func newTestModel(t *testing.T) *Model {
	t.Helper()
	m := New(Options{Server: "chat.test:9000", NoColor: true, Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return m
}

func screenText(m *Model) string { return ansi.Strip(m.View().Content) }

func press(m *Model, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "pgup":
			msg = tea.KeyPressMsg{Code: tea.KeyPgUp}
		case "ctrl+r":
			msg = tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl}
		default:
			for _, r := range k {
				m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
			}
			continue
		}
		m.Update(msg)
	}
}

func mustContain(t *testing.T, screen string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(screen, w) {
			t.Fatalf("screen lacks %q:\n%s", w, screen)
		}
	}
}

func mustNotContain(t *testing.T, screen string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if strings.Contains(screen, w) {
			t.Fatalf("screen still has %q:\n%s", w, screen)
		}
	}
}

func TestLoginScreen(t *testing.T) {
	m := newTestModel(t)
	s := screenText(m)
	mustContain(t, s, "chat — log in", "Server:   chat.test:9000", "Username:", "Password:", "ctrl+r: register instead")

	press(m, "alice", "tab", "secret-pw")
	s = screenText(m)
	mustContain(t, s, "Username: alice")
	mustNotContain(t, s, "secret-pw") // the password is masked
	if m.fields[fieldPassword].Value() != "secret-pw" {
		t.Fatalf("password field holds %q", m.fields[fieldPassword].Value())
	}

	press(m, "ctrl+r")
	mustContain(t, screenText(m), "chat — register a new account", "ctrl+r: log in instead")

	// Submitting starts the connection and shows progress.
	press(m, "enter", "secret-pw", "enter")
	mustContain(t, screenText(m), "Registering alice at chat.test:9000")

	m.Update(loginFailedMsg{err: errors.New("register: USERNAME_TAKEN: username taken")})
	mustContain(t, screenText(m), "error: register: USERNAME_TAKEN")
}

func TestLoginValidation(t *testing.T) {
	m := newTestModel(t)
	m.fields[fieldUser].SetValue("bob")
	m.focusField(fieldPassword)
	press(m, "enter")
	mustContain(t, screenText(m), "error: password required")
}

func TestLoginShowsDiscoveredServers(t *testing.T) {
	m := newTestModel(t)
	m.Update(discoveredMsg{{Name: "office", Version: "1.2", ChatAddr: "10.0.0.5:9000", FileAddr: "10.0.0.5:9001"}})
	mustContain(t, screenText(m), "Servers on the LAN", "10.0.0.5:9000  office")
	m.Update(tea.KeyPressMsg{Code: 'l', Mod: tea.ModCtrl})
	if got := m.fields[fieldServer].Value(); got != "10.0.0.5:9000" {
		t.Fatalf("server field %q", got)
	}
}

const (
	aliceID = 1
	bobID   = 2
	carolID = 3
)

var (
	alice = protocol.Profile{UserID: aliceID, Username: "alice", Nickname: "alice"}
	bob   = protocol.Profile{UserID: bobID, Username: "bob", Nickname: "bob", Signature: "at the beach"}
	carol = protocol.Profile{UserID: carolID, Username: "carol", Nickname: "carol"}
)

// loggedIn returns a model on the main screen as alice, with bob online
// (two unread messages) and carol offline, and one group.
func loggedIn(t *testing.T) *Model {
	t.Helper()
	m := newTestModel(t)
	conv := protocol.PrivateConv(aliceID, bobID)
	m.Update(loggedInMsg{server: "chat.test:9000", resp: &protocol.LoginResp{
		UserID: aliceID, Profile: alice,
		Friends: []protocol.Friend{{Profile: bob, Online: true}, {Profile: carol}},
		Groups:  []protocol.Group{{GroupID: 7, Name: "team", Owner: aliceID, MemberCount: 3}},
		Convs:   []protocol.ConvInfo{{Conv: conv, LastSeq: 2, AckSeq: 0, ReadSeq: 0}},
	}})
	return m
}

func TestMainScreenContacts(t *testing.T) {
	m := loggedIn(t)
	s := screenText(m)
	mustContain(t, s, "alice @ chat.test:9000 · connected", "Friends", "● bob (2)", "○ carol",
		"Groups", "# team", "Rooms", "No conversation open.")
	// The missed messages the server pushes after login are the ones the
	// login reply already counted: the count stays 2.
	conv := protocol.PrivateConv(aliceID, bobID)
	for seq := int64(1); seq <= 2; seq++ {
		m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
			Conv: conv, Seq: seq, From: bobID, Ts: 1, Type: "text", Body: "x"}}}})
	}
	mustContain(t, screenText(m), "● bob (2)")
	// Presence changes re-sort and re-mark friends.
	m.Update(pushMsg{client.Push{Op: protocol.OpPresence, Body: &protocol.PresencePush{UserID: carolID, Online: true}}})
	mustContain(t, screenText(m), "● carol")
	m.Update(pushMsg{client.Push{Op: protocol.OpPresence, Body: &protocol.PresencePush{UserID: bobID, Online: false}}})
	mustContain(t, screenText(m), "○ bob (2)")
	m.Update(stateMsg{state: client.StateReconnecting})
	mustContain(t, screenText(m), "· reconnecting")
}

func TestConversationSendReceiveAndReceipts(t *testing.T) {
	m := loggedIn(t)
	conv := protocol.PrivateConv(aliceID, bobID)
	// bob is the first friend (online first): open him.
	press(m, "enter")
	if m.active != conv || !m.inputFocus {
		t.Fatalf("active %q input focus %v", m.active, m.inputFocus)
	}
	ts := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC).UnixMilli()
	m.Update(historyMsg{conv: conv, after: 0, msgs: []protocol.Message{
		{MsgID: 10, Conv: conv, Seq: 1, From: bobID, Ts: ts, Type: "text", Body: "hi alice"},
		{MsgID: 11, Conv: conv, Seq: 2, From: bobID, Ts: ts + 60_000, Type: "text", Body: "lunch?"},
	}})
	s := screenText(m)
	mustContain(t, s, "bob · online · “at the beach”", "09:30 bob: hi alice", "09:31 bob: lunch?")
	mustNotContain(t, s, "bob (2)") // opening the conversation read it

	press(m, "sure, at noon", "enter")
	line := m.convs[conv].lines[2]
	if !line.pending || line.body != "sure, at noon" {
		t.Fatalf("pending line %+v", line)
	}
	mustContain(t, screenText(m), "me: sure, at noon …")

	m.Update(sentMsg{conv: conv, cmid: line.cmid, resp: &protocol.MsgSendResp{Seq: 3, Conv: conv, Ts: ts + 120_000}})
	mustContain(t, screenText(m), "09:32 me: sure, at noon ✓")
	m.Update(pushMsg{client.Push{Op: protocol.OpReadReceipt, Body: &protocol.ReadReceiptPush{Conv: conv, UserID: bobID, Seq: 3}}})
	mustContain(t, screenText(m), "09:32 me: sure, at noon ✓✓")

	// An incoming message in the open conversation shows at once; one in
	// another conversation counts as unread.
	m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
		MsgID: 13, Conv: conv, Seq: 4, From: bobID, Ts: ts + 180_000, Type: "text", Body: "great"}}}})
	m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
		MsgID: 14, Conv: "g:7", Seq: 1, From: carolID, Ts: ts, Type: "text", Body: "standup?"}}}})
	// A repeat of a message already shown is ignored.
	m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
		MsgID: 13, Conv: conv, Seq: 4, From: bobID, Ts: ts + 180_000, Type: "text", Body: "great"}}}})
	s = screenText(m)
	mustContain(t, s, "09:33 bob: great", "# team (1)")
	if strings.Count(s, "bob: great") != 1 {
		t.Fatalf("message shown twice:\n%s", s)
	}

	// A failed send is marked.
	press(m, "second", "enter")
	l := m.convs[conv].lines[len(m.convs[conv].lines)-1]
	m.Update(sentMsg{conv: conv, cmid: l.cmid, err: protocol.NewError(protocol.CodeRateLimited, "slow down")})
	mustContain(t, screenText(m), "me: second ✗ not sent", "not sent: RATE_LIMITED: slow down")
}

func TestMultiLinePasteIsOneMessage(t *testing.T) {
	m := loggedIn(t)
	press(m, "enter") // open bob, focus input
	m.Update(tea.PasteMsg{Content: "line one\nline two"})
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	lines := m.convs[conv].lines
	if len(lines) != 1 || lines[0].body != "line one\nline two" {
		t.Fatalf("lines %+v", lines)
	}
	mustContain(t, screenText(m), "me: line one", "line two …")

	// alt+enter starts a new line without sending.
	press(m, "first")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModAlt})
	press(m, "second", "enter")
	lines = m.convs[conv].lines
	if len(lines) != 2 || lines[1].body != "first\nsecond" {
		t.Fatalf("lines %+v", lines)
	}
}

func TestFriendRequestNotification(t *testing.T) {
	m := loggedIn(t)
	m.Update(pushMsg{client.Push{Op: protocol.OpFriendRequested, Body: &protocol.FriendRequestedPush{
		RequestID: 55, From: protocol.Profile{UserID: 9, Username: "dave"}, Note: "from the meetup"}}})
	s := screenText(m)
	mustContain(t, s, "Requests", "? dave (request)",
		"friend request from dave: from the meetup — select it, a: accept, x: reject")
	// A long note wraps instead of being cut.
	m.Update(pushMsg{client.Push{Op: protocol.OpFriendRequested, Body: &protocol.FriendRequestedPush{
		RequestID: 57, From: protocol.Profile{UserID: 11, Username: "fay"},
		Note: "we met at the conference last week and talked about terminal chat clients for a while"}}})
	mustContain(t, screenText(m), "terminal chat clients for a while — select it, a: accept, x: reject")
	m.Update(requestGone(57))
	// The request is listed first; the selection stays where it was
	// until the user moves to it.
	press(m, "up")
	if it, ok := m.selected(); !ok || it.kind != itemRequest || it.id != 55 {
		t.Fatalf("selected %+v", it)
	}
	// The same request pushed again after a re-login is not listed twice.
	m.Update(pushMsg{client.Push{Op: protocol.OpFriendRequested, Body: &protocol.FriendRequestedPush{
		RequestID: 55, From: protocol.Profile{UserID: 9, Username: "dave"}}}})
	if strings.Count(screenText(m), "dave (request)") != 1 {
		t.Fatal("request listed twice")
	}
	// Answering removes it; the friend list refresh adds dave.
	m.Update(requestGone(55))
	m.Update(friendsMsg{{Profile: bob, Online: true}, {Profile: carol}, {Profile: protocol.Profile{UserID: 9, Username: "dave"}, Online: true}})
	s = screenText(m)
	mustNotContain(t, s, "(request)")
	mustContain(t, s, "● dave")

	m.Update(pushMsg{client.Push{Op: protocol.OpFriendResponded, Body: &protocol.FriendRespondedPush{
		RequestID: 56, By: protocol.Profile{UserID: 10, Username: "erin"}, Accepted: false}}})
	mustContain(t, screenText(m), "erin declined your friend request")
}

func TestFileProgressAndOffer(t *testing.T) {
	m := loggedIn(t)
	x := m.startTransfer("sending report.pdf")
	m.Update(progressMsg{id: x.id, done: 512 << 10, total: 1 << 20})
	s := screenText(m)
	mustContain(t, s, "sending report.pdf [#############.............]  50% 512.0 KiB/1.0 MiB")
	m.Update(progressMsg{id: x.id, done: 1 << 20, total: 1 << 20})
	mustContain(t, screenText(m), "100% 1.0 MiB/1.0 MiB")
	m.Update(transferDoneMsg{id: x.id, label: "sending report.pdf",
		file: &protocol.FileOfferedPush{FileID: 16, Name: "report.pdf", Size: 1 << 20}})
	s = screenText(m)
	mustContain(t, s, "sending report.pdf: done")
	mustNotContain(t, s, "100%")
	// A late progress report of a finished transfer changes nothing.
	m.Update(progressMsg{id: x.id, done: 1 << 20, total: 1 << 20})
	mustNotContain(t, screenText(m), "100%")
	// The sent file is named in the conversation.
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	m.Update(historyMsg{conv: conv, msgs: []protocol.Message{{Conv: conv, Seq: 1, From: aliceID, Ts: 1, Type: "file", Body: "16"}}})
	mustContain(t, screenText(m), "me: [file report.pdf, 1.0 MiB] /get 16")

	m.Update(pushMsg{client.Push{Op: protocol.OpFileOffered, Body: &protocol.FileOfferedPush{
		FileID: 17, From: bob, Name: "photo.jpg", Size: 2048, Sha256: strings.Repeat("a", 64)}}})
	mustContain(t, screenText(m), "bob offers photo.jpg (2.0 KiB) — /get 17")
}

func TestRoomsAndGroupsEvents(t *testing.T) {
	m := loggedIn(t)
	m.Update(roomJoinedMsg{id: 4, name: "standup", members: []protocol.Profile{alice, bob}})
	s := screenText(m)
	mustContain(t, s, "> @ standup", "@ standup (room 4, live)", "in room standup (4) (2 members)")
	m.Update(pushMsg{client.Push{Op: protocol.OpRoomSaid, Body: &protocol.RoomSaidPush{RoomID: 4, From: bobID, Body: "morning", Ts: 1}}})
	m.Update(pushMsg{client.Push{Op: protocol.OpRoomEvent, Body: &protocol.RoomEventPush{RoomID: 4, Kind: "left", UserID: bobID}}})
	mustContain(t, screenText(m), "bob: morning", "— bob left —")
	m.Update(roomLeftMsg(4))
	mustNotContain(t, screenText(m), "@ standup")
	// A lost connection ends room membership.
	m.Update(roomJoinedMsg{id: 5, name: "retro", members: []protocol.Profile{alice}})
	m.Update(stateMsg{state: client.StateReconnecting})
	s = screenText(m)
	mustNotContain(t, s, "@ retro")
	mustContain(t, s, "connection lost: left all rooms", "· reconnecting")

	m.Update(groupsMsg{{GroupID: 7, Name: "team", Owner: aliceID, MemberCount: 3}, {GroupID: 8, Name: "family", Owner: bobID, MemberCount: 2}})
	mustContain(t, screenText(m), "# family")
	m.Update(groupLeftMsg(8))
	mustNotContain(t, screenText(m), "# family")

	// Removed from the open group (kicked or dismissed): it closes.
	m.open(protocol.GroupConv(7))
	mustContain(t, screenText(m), "# team (3 members)")
	m.Update(pushMsg{client.Push{Op: protocol.OpGroupEvent, Body: &protocol.GroupEventPush{GroupID: 7, Kind: "kicked", UserID: aliceID}}})
	m.Update(groupsMsg{})
	s = screenText(m)
	mustNotContain(t, s, "# team")
	mustContain(t, s, "No conversation open.", "you are no longer in that group")
}

func TestKickedReturnsToLogin(t *testing.T) {
	m := loggedIn(t)
	m.Update(pushMsg{client.Push{Op: protocol.OpKicked, Body: &protocol.KickedPush{Reason: "login_elsewhere", Addr: "10.1.1.1:4000"}}})
	mustContain(t, screenText(m), "chat — log in", "logged in elsewhere (10.1.1.1:4000)")
}

func TestHelpAndUnknownCommand(t *testing.T) {
	m := loggedIn(t)
	press(m, "tab", "/help", "enter")
	mustContain(t, screenText(m), "/add USER [note]", "/send PATH")
	press(m, "/frobnicate", "enter")
	mustContain(t, screenText(m), "unknown command /frobnicate")
}

// TestLayoutFitsTerminal checks that every frame is exactly the terminal
// size at 80x24 and after resizes, so nothing wraps or scrolls.
func TestLayoutFitsTerminal(t *testing.T) {
	m := loggedIn(t)
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	var msgs []protocol.Message
	for i := 1; i <= 40; i++ {
		msgs = append(msgs, protocol.Message{Conv: conv, Seq: int64(i), From: bobID, Ts: 1, Type: "text",
			Body: strings.Repeat("long words here ", i%7+1)})
	}
	m.Update(historyMsg{conv: conv, msgs: msgs})
	for _, size := range [][2]int{{80, 24}, {120, 40}, {60, 20}, {200, 50}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		lines := strings.Split(screenText(m), "\n")
		if len(lines) != size[1] {
			t.Fatalf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Fatalf("%dx%d: line %d is %d wide: %q", size[0], size[1], i, w, l)
			}
		}
	}
	// Scrolling back shows older lines and says so.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "pgup")
	mustContain(t, screenText(m), "[scrolled up")
}

func TestNoColorHasNoColorCodes(t *testing.T) {
	login := newTestModel(t)
	press(login, "alice")
	login.Update(loginFailedMsg{err: errors.New("login: BAD_CREDENTIALS")})
	for _, sgr := range []string{"\x1b[3", "\x1b[9", "\x1b[38", "\x1b[48"} {
		if strings.Contains(login.View().Content, sgr) {
			t.Fatalf("colour escape %q on the NO_COLOR login screen: %q", sgr, login.View().Content)
		}
	}
	m := loggedIn(t)
	press(m, "enter")
	x := m.startTransfer("sending a")
	m.Update(progressMsg{id: x.id, done: 1, total: 2})
	out := m.View().Content
	for _, sgr := range []string{"\x1b[3", "\x1b[9", "\x1b[38", "\x1b[48"} {
		if strings.Contains(out, sgr) {
			t.Fatalf("colour escape %q in NO_COLOR output: %q", sgr, out)
		}
	}
}

func TestLongContactListKeepsSelectionVisible(t *testing.T) {
	m := loggedIn(t)
	var fs friendsMsg
	for i := range 40 {
		fs = append(fs, protocol.Friend{Profile: protocol.Profile{UserID: int64(100 + i), Username: fmt.Sprintf("friend%02d", i)}})
	}
	m.Update(fs)
	for range 35 {
		press(m, "down")
	}
	it, _ := m.selected()
	s := screenText(m)
	mustContain(t, s, "> ○ "+it.label)
	if len(strings.Split(s, "\n")) != 24 {
		t.Fatal("frame is not 24 lines")
	}
}
