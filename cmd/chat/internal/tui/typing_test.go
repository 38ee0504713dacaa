package tui

import (
	"testing"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

func TestTypingShownInHeaderAndExpires(t *testing.T) {
	m := loggedIn(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	m.opts.Now = func() time.Time { return now }
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	cmd := m.handlePush(client.Push{Op: protocol.OpTyping, Body: &protocol.TypingPush{Conv: conv, UserID: bobID}})
	if cmd == nil {
		t.Fatal("no expiry timer")
	}
	mustContain(t, screenText(m), "bob · online · “at the beach” · bob is typing…")
	// Still typing within the window: the mark stays.
	now = now.Add(2 * time.Second)
	m.Update(typingExpiredMsg{conv: conv, user: bobID})
	mustContain(t, screenText(m), "bob is typing…")
	// Past it, the timer's message drops the mark.
	now = now.Add(typingShown)
	m.Update(typingExpiredMsg{conv: conv, user: bobID})
	mustNotContain(t, screenText(m), "typing")
	// A message from the typist ends it at once.
	m.handlePush(client.Push{Op: protocol.OpTyping, Body: &protocol.TypingPush{Conv: conv, UserID: bobID}})
	m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
		Conv: conv, Seq: 1, From: bobID, Ts: 1, Type: "text", Body: "done"}}}})
	mustNotContain(t, screenText(m), "typing")
}

// TestTypingNoticesAreRateLimited: typing sends a notice at most every
// 3 s per conversation, none for commands.
func TestTypingNoticesAreRateLimited(t *testing.T) {
	m := loggedIn(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	m.opts.Now = func() time.Time { return now }
	m.c = &client.Client{} // never called: the commands are not run
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	sent := func() time.Time { return m.typingSent[conv] }
	press(m, "h")
	if !sent().Equal(now) {
		t.Fatalf("no notice on the first key (%v)", sent())
	}
	first := now
	now = now.Add(time.Second)
	press(m, "i")
	if !sent().Equal(first) {
		t.Fatal("a second notice within 3 s")
	}
	now = now.Add(2 * time.Second)
	press(m, "!")
	if !sent().Equal(now) {
		t.Fatal("no notice after 3 s")
	}
	m.input.Reset()
	delete(m.typingSent, conv)
	press(m, "/help")
	if _, ok := m.typingSent[conv]; ok {
		t.Fatal("typing a command sent a notice")
	}
	m.c = nil
}
