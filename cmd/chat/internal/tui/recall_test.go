package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// openBobWith opens bob's conversation holding msgs.
func openBobWith(t *testing.T, msgs ...protocol.Message) (*Model, string) {
	t.Helper()
	m := loggedIn(t)
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	for i := range msgs {
		msgs[i].Conv = conv
		msgs[i].Ts = 1
		if msgs[i].Type == "" {
			msgs[i].Type = "text"
		}
	}
	m.Update(historyMsg{conv: conv, msgs: msgs})
	return m, conv
}

func TestRecallShowsRecalled(t *testing.T) {
	m, conv := openBobWith(t,
		protocol.Message{Seq: 1, From: bobID, Body: "oops wrong chat"},
		protocol.Message{Seq: 2, From: aliceID, Body: "mine to take back"})
	// bob recalls his message: the recall notice arrives as a message.
	m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
		Conv: conv, Seq: 3, From: bobID, Ts: 2, Type: protocol.MsgTypeRecall, Body: "1"}}}})
	s := screenText(m)
	mustContain(t, s, "bob: (recalled)", "me: mine to take back ✓")
	mustNotContain(t, s, "oops wrong chat")
	// /recall takes back the user's last message; the reply shows it.
	press(m, "/recall", "enter")
	m.Update(recalledMsg{conv: conv, target: 2, seq: 4})
	s = screenText(m)
	mustContain(t, s, "me: (recalled)", "message recalled")
	mustNotContain(t, s, "mine to take back")
	if cv := m.convs[conv]; cv.lastSeq != 4 || cv.unreadCount() != 0 {
		t.Fatalf("last %d unread %d", cv.lastSeq, cv.unreadCount())
	}
	// History reloaded later brings it back as type "recalled".
	m.Update(historyMsg{conv: conv, msgs: []protocol.Message{{Conv: conv, Seq: 2, From: aliceID, Type: protocol.MsgTypeRecalled}}})
	mustContain(t, screenText(m), "me: (recalled)")
	// A refused recall says why.
	m.Update(recalledMsg{conv: conv, target: 1, err: protocol.NewError(protocol.CodeForbidden, "too late to recall")})
	mustContain(t, screenText(m), "recall: FORBIDDEN: too late to recall")
}

// TestPickAMessageToRecallOrReply: ↑ in the empty input line picks the
// newest message; ↑ moves to older ones; d recalls the picked one, r
// quotes it in the next message.
func TestPickAMessageToRecallOrReply(t *testing.T) {
	m, conv := openBobWith(t,
		protocol.Message{Seq: 1, From: aliceID, Body: "first"},
		protocol.Message{Seq: 2, From: bobID, Body: "second"},
		protocol.Message{Seq: 3, From: aliceID, Body: "third"})
	press(m, "up")
	if m.pick != 3 {
		t.Fatalf("picked %d", m.pick)
	}
	mustContain(t, screenText(m), "▶ 00:00 me: third", "focus: MESSAGES")
	press(m, "up", "up")
	mustContain(t, screenText(m), "▶ 00:00 me: first")
	press(m, "d") // no client: the command is not run, the pick ends
	if m.pick != 0 || !m.inputFocus {
		t.Fatalf("pick %d input %v", m.pick, m.inputFocus)
	}
	press(m, "up", "up", "r")
	if m.replyTo != 2 {
		t.Fatalf("reply to %d", m.replyTo)
	}
	mustContain(t, screenText(m), "replying ↳ re bob: second")
	press(m, "sure", "enter")
	l := m.convs[conv].lines[len(m.convs[conv].lines)-1]
	if l.replyTo != 2 || m.replyTo != 0 {
		t.Fatalf("sent line %+v, replyTo left %d", l, m.replyTo)
	}
	mustContain(t, screenText(m), "↳ re bob: second", "me: sure …")
	// esc drops a quote before leaving the input.
	press(m, "up", "r")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.replyTo != 0 || !m.inputFocus {
		t.Fatalf("esc: reply %d input %v", m.replyTo, m.inputFocus)
	}
}
