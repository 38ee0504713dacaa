package tui

import (
	"testing"

	"github.com/chatd/chatd/protocol"
)

func TestSearchResultsJumpToMessage(t *testing.T) {
	m := loggedIn(t)
	conv := protocol.PrivateConv(aliceID, bobID)
	press(m, "tab", "/search lunch", "enter")
	mustContain(t, screenText(m), `Search "lunch": searching…`, "focus: SEARCH")
	m.Update(searchMsg{query: "lunch", resp: &protocol.MsgSearchResp{Messages: []protocol.Message{
		{MsgID: 40, Conv: "g:7", Seq: 9, From: carolID, Ts: 1, Type: "text", Body: "team lunch friday"},
		{MsgID: 12, Conv: conv, Seq: 2, From: bobID, Ts: 1, Type: "text", Body: "lunch?"},
	}, More: true}})
	s := screenText(m)
	mustContain(t, s, `Search "lunch": 2 results, n: more`, "> #team · 01-01 00:00 carol: team lunch friday", "  bob · 01-01 00:00 bob: lunch?")
	// A page of an older search is not mixed in.
	m.Update(searchMsg{query: "other", resp: &protocol.MsgSearchResp{Messages: []protocol.Message{{MsgID: 1, Conv: conv, Seq: 1, Body: "x"}}}})
	mustNotContain(t, screenText(m), "3 results")
	press(m, "down", "enter")
	if m.panel != nil || m.active != conv {
		t.Fatalf("panel %v active %q", m.panel, m.active)
	}
	// The conversation's history arrives; the result is picked and shown.
	m.Update(jumpedMsg{conv: conv, seq: 2, hist: historyMsg{conv: conv, msgs: []protocol.Message{
		{Conv: conv, Seq: 1, From: bobID, Ts: 1, Type: "text", Body: "hi"},
		{Conv: conv, Seq: 2, From: bobID, Ts: 1, Type: "text", Body: "lunch?"}}}})
	mustContain(t, screenText(m), "▶ 00:00 bob: lunch?")
	if m.pick != 2 {
		t.Fatalf("picked %d", m.pick)
	}
}

func TestSearchNeedsText(t *testing.T) {
	m := loggedIn(t)
	press(m, "tab", "/search", "enter")
	mustContain(t, screenText(m), "usage: /search TEXT")
}
