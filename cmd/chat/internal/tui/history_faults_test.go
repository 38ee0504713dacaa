package tui

import (
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

// TestOwnMessagesAreNotUnread: on a new device the login reply's read
// cursor may lag behind messages the user sent elsewhere; a conversation
// whose last message is the user's own has been read up to it, and own
// messages loaded later never count as unread.
func TestOwnMessagesAreNotUnread(t *testing.T) {
	m := newTestModel(t)
	conv := protocol.PrivateConv(aliceID, bobID)
	m.Update(loggedInMsg{server: "chat.test:9000", resp: &protocol.LoginResp{
		UserID: aliceID, Profile: alice,
		Friends: []protocol.Friend{{Profile: bob, Online: true}, {Profile: carol}},
		Groups:  []protocol.Group{{GroupID: 7, Name: "team", Owner: bobID, MemberCount: 3}},
		Convs: []protocol.ConvInfo{
			{Conv: conv, LastSeq: 3, AckSeq: 3, ReadSeq: 1, Last: &protocol.Message{Conv: conv, Seq: 3, From: aliceID, Type: "text", Body: "mine"}},
			{Conv: "g:7", LastSeq: 5, AckSeq: 5, ReadSeq: 2, Last: &protocol.Message{Conv: "g:7", Seq: 5, From: carolID, Type: "text", Body: "theirs"}},
		},
	}})
	s := screenText(m)
	mustNotContain(t, s, "bob (")
	mustContain(t, s, "# team (3)")
	// History shows the group's seqs 3..5: 4 and 5 are alice's own, from
	// another device; only carol's 3 is unread.
	m.Update(historyMsg{conv: "g:7", after: 2, msgs: []protocol.Message{
		{Conv: "g:7", Seq: 3, From: carolID, Ts: 1, Type: "text", Body: "q"},
		{Conv: "g:7", Seq: 4, From: aliceID, Ts: 2, Type: "text", Body: "a"},
		{Conv: "g:7", Seq: 5, From: carolID, Ts: 3, Type: "text", Body: "ok"},
	}})
	mustContain(t, screenText(m), "# team (1)")
}

// TestReloadedHistoryShowsReadAndFileNames: history loaded after a
// restart marks own messages the friend answered as read (✓✓), and names
// file messages with their name and size once the server told them.
func TestReloadedHistoryShowsReadAndFileNames(t *testing.T) {
	m := loggedIn(t)
	press(m, "enter")
	conv := protocol.PrivateConv(aliceID, bobID)
	ts := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC).UnixMilli()
	m.Update(historyMsg{conv: conv, msgs: []protocol.Message{
		{Conv: conv, Seq: 1, From: aliceID, Ts: ts, Type: "text", Body: "question"},
		{Conv: conv, Seq: 2, From: bobID, Ts: ts, Type: "text", Body: "answer"},
		{Conv: conv, Seq: 3, From: aliceID, Ts: ts, Type: "file", Body: "9"},
	}})
	s := screenText(m)
	mustContain(t, s, "me: question ✓✓", "bob: answer", "me: [file #9] /get 9 ✓")
	mustNotContain(t, s, "/get 9 ✓✓")
	m.Update(fileInfoMsg{id: 9, name: "notes.txt", size: 2048})
	mustContain(t, screenText(m), "me: [file notes.txt, 2.0 KiB] /get 9 ✓")
}

// TestRoomJoinerSeesRoomName: the join reply names the room.
func TestRoomJoinerSeesRoomName(t *testing.T) {
	m := loggedIn(t)
	m.Update(roomJoinedMsg{id: 12, name: "standup", members: []protocol.Profile{alice, bob}, count: 2})
	s := screenText(m)
	mustContain(t, s, "@ standup (room 12, live)", "in room standup (12) (2 members)")
	mustNotContain(t, s, "@ room 12")
}
