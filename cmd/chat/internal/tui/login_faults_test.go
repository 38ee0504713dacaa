package tui

import (
	"errors"
	"testing"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// TestFailedLoginDoesNotLeakIntoTheNextSession: the client of a failed
// login closes after the failure and reports "closed"; that report belongs
// to the failed attempt and must not become the state of the session a
// later good login starts (the header used to stay "closed").
func TestFailedLoginDoesNotLeakIntoTheNextSession(t *testing.T) {
	m := newTestModel(t)
	failed := newSession()
	m.Update(loginFailedMsg{sess: failed, err: errors.New("login: BAD_CREDENTIALS")})
	failed.post(stateMsg{state: client.StateClosed}) // the failed client closing, late
	good := newSession()
	m.Update(loggedInMsg{sess: good, server: "chat.test:9000", resp: &protocol.LoginResp{UserID: aliceID, Profile: alice}})
	good.post(pushMsg{client.Push{Op: protocol.OpPresence, Body: &protocol.PresencePush{UserID: bobID, Online: true}}})
	// Run the model's wait for the next event as Bubble Tea would.
	m.Update(m.waitEvent()())
	mustContain(t, screenText(m), "alice @ chat.test:9000 · connected")
	// An event of a session that is over is dropped even when read.
	m.Update(sessionEvent{sess: failed, msg: stateMsg{state: client.StateClosed}})
	mustContain(t, screenText(m), "· connected")
}

// TestKickedAfterRegisteringShowsLogin: a user who registered in this run
// and is then kicked lands on the login form, not the register form.
func TestKickedAfterRegisteringShowsLogin(t *testing.T) {
	m := newTestModel(t)
	press(m, "ctrl+r")
	m.Update(loggedInMsg{server: "chat.test:9000", resp: &protocol.LoginResp{UserID: aliceID, Profile: alice}})
	m.Update(pushMsg{client.Push{Op: protocol.OpKicked, Body: &protocol.KickedPush{Reason: "revoked"}}})
	s := screenText(m)
	mustContain(t, s, "chat — log in", "this device was signed out from another device")
	mustNotContain(t, s, "register a new account", "Confirm:")
}

// TestPresenceUnknownWhileReconnecting: while the connection is down the
// friend's last known presence is stale: neither the conversation title
// nor the list claims "online".
func TestPresenceUnknownWhileReconnecting(t *testing.T) {
	m := loggedIn(t)
	press(m, "enter") // open bob, who is online
	mustContain(t, screenText(m), "bob · online", "● bob")
	m.Update(stateMsg{state: client.StateReconnecting})
	s := screenText(m)
	mustNotContain(t, s, "online", "● bob")
	mustContain(t, s, "bob · presence unknown (reconnecting)", "◌ bob")
	m.Update(stateMsg{state: client.StateConnected})
	mustContain(t, screenText(m), "bob · online", "● bob")
}

// TestRegisterAsksTwiceAndShowsRules: the register form shows the rules
// before any attempt, asks for the password twice, and refuses locally a
// confirmation that differs or a password outside the rules.
func TestRegisterAsksTwiceAndShowsRules(t *testing.T) {
	m := newTestModel(t)
	mustNotContain(t, screenText(m), "Confirm:", "8-128")
	press(m, "ctrl+r")
	mustContain(t, screenText(m), "username: 3-32 letters, digits or _", "password: 8-128 characters", "Confirm:")
	press(m, "alice", "tab", "secret-pw", "enter") // enter moves on to the confirmation
	if m.focus != fieldConfirm || m.busy != "" {
		t.Fatalf("focus %d busy %q", m.focus, m.busy)
	}
	press(m, "secret-px", "enter")
	mustContain(t, screenText(m), "error: the two passwords differ")
	if m.busy != "" || m.fields[fieldConfirm].Value() != "" {
		t.Fatalf("submitted with differing passwords (busy %q)", m.busy)
	}
	m.fields[fieldPassword].SetValue("short")
	press(m, "short", "enter")
	mustContain(t, screenText(m), "error: the password must be 8-128 characters")
	m.fields[fieldPassword].SetValue("secret-pw")
	m.fields[fieldConfirm].SetValue("")
	press(m, "secret-pw", "enter")
	mustContain(t, screenText(m), "Registering alice at chat.test:9000")
	// Logging in asks once.
	m.Update(loginFailedMsg{err: errors.New("register: USERNAME_TAKEN")})
	press(m, "ctrl+r")
	mustNotContain(t, screenText(m), "Confirm:")
}
