package tui

import (
	"testing"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

func teamMembers() membersMsg {
	return membersMsg{group: 7, members: []protocol.GroupMember{
		{Friend: protocol.Friend{Profile: alice}, Role: protocol.RoleOwner},
		{Friend: protocol.Friend{Profile: bob}, Role: protocol.RoleAdmin},
		{Friend: protocol.Friend{Profile: carol}, Role: protocol.RoleMember},
		{Friend: protocol.Friend{Profile: protocol.Profile{UserID: 4, Username: "carla"}}, Role: protocol.RoleMember},
	}}
}

// TestMentionCompletionAndSend: in a group, tab after @ completes a
// member's name; the names in a sent message go out as mentions, @all as
// mention_all.
func TestMentionCompletionAndSend(t *testing.T) {
	m := loggedIn(t)
	m.open("g:7")
	m.Update(teamMembers())
	m.focusInput(true)
	press(m, "hi @b", "tab")
	if got := m.input.Value(); got != "hi @bob " {
		t.Fatalf("completed to %q", got)
	}
	press(m, "and @car", "tab")
	mustContain(t, screenText(m), "@carla @carol")
	press(m, "o", "tab", "and @all", "enter")
	l := m.convs["g:7"].lines[0]
	if l.body != "hi @bob and @carol and @all" || len(l.mentions) != 2 || l.mentions[0] != bobID || l.mentions[1] != carolID || !l.mentionAll {
		t.Fatalf("sent %+v", l)
	}
	// A private conversation sends no mentions; tab there switches focus.
	m.open(protocol.PrivateConv(aliceID, bobID))
	m.focusInput(true)
	press(m, "@bo", "tab")
	if m.inputFocus {
		t.Fatal("tab in a private conversation did not leave the input")
	}
}

// TestMentionOfMeIsMarked: a message naming the user (or everyone) is
// marked [@me], and the list says the unread group holds one.
func TestMentionOfMeIsMarked(t *testing.T) {
	m := loggedIn(t)
	m.Update(pushMsg{client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{
		Conv: "g:7", Seq: 1, From: bobID, Ts: 1, Type: "text", Body: "@alice look", Mentions: []int64{aliceID}}}}})
	mustContain(t, screenText(m), "# team (1) @me")
	m.open("g:7")
	s := screenText(m)
	mustContain(t, s, "bob [@me]: @alice look")
	mustNotContain(t, s, "(1) @me")
	// The login reply's mention_seq marks it too.
	m2 := newTestModel(t)
	m2.Update(loggedInMsg{server: "x", resp: &protocol.LoginResp{UserID: aliceID, Profile: alice,
		Groups: []protocol.Group{{GroupID: 7, Name: "team", Owner: bobID, MemberCount: 2}},
		Convs:  []protocol.ConvInfo{{Conv: "g:7", LastSeq: 5, ReadSeq: 2, MentionSeq: 4}}}})
	mustContain(t, screenText(m2), "# team (3) @me")
}
