package tui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

func TestGroupSettingsPanelAndEvents(t *testing.T) {
	m := loggedIn(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	m.opts.Now = func() time.Time { return now }
	m.open("g:7")
	m.Update(groupsMsg{{GroupID: 7, Name: "team", Owner: aliceID, MemberCount: 4, Notice: "standup at 9"}})
	mustContain(t, screenText(m), "# team (4 members) · notice: standup at 9")
	press(m, "tab", "/settings", "enter")
	tm := teamMembers()
	tm.members[2].MutedUntil = now.Add(10 * time.Minute).UnixMilli()
	m.Update(tm)
	s := screenText(m)
	mustContain(t, s, "# team · settings (you: owner)", "notice: standup at 9", "> alice (owner)", "  bob (admin)",
		"carol muted until 09:10", "focus: SETTINGS")
	// t asks before transferring.
	press(m, "down", "down", "t")
	mustContain(t, screenText(m), "press t again to make carol the owner")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.panel != nil {
		t.Fatal("esc left the panel open")
	}
	// What others change shows as it happens.
	until := now.Add(time.Hour).UnixMilli()
	m.c = &client.Client{} // never called: the commands are not run
	m.Update(pushMsg{client.Push{Op: protocol.OpGroupEvent, Body: &protocol.GroupEventPush{GroupID: 7, Kind: protocol.GroupRoleChanged, UserID: carolID, Role: protocol.RoleAdmin}}})
	mustContain(t, screenText(m), "team: carol now admin")
	m.Update(pushMsg{client.Push{Op: protocol.OpGroupEvent, Body: &protocol.GroupEventPush{GroupID: 7, Kind: protocol.GroupMuted, UserID: aliceID, Until: &until}}})
	mustContain(t, screenText(m), "team: you muted until 10:00")
	m.Update(pushMsg{client.Push{Op: protocol.OpGroupEvent, Body: &protocol.GroupEventPush{GroupID: 7, Kind: protocol.GroupTransferred, UserID: bobID}}})
	mustContain(t, screenText(m), "team: bob now own the group")
	m.c = nil
	// Outside a group the commands explain.
	m.open(protocol.PrivateConv(aliceID, bobID))
	press(m, "tab", "/mute bob", "enter")
	mustContain(t, screenText(m), "open a group first")
}
