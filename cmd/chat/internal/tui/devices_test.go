package tui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

func TestDevicesPanel(t *testing.T) {
	m := loggedIn(t)
	press(m, "tab", "/devices", "enter")
	mustContain(t, screenText(m), "Devices: loading…", "focus: DEVICES")
	since := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC).UnixMilli()
	m.Update(sessionsMsg{
		{Device: "tui", Addr: "10.0.0.2:5000", Since: since, Current: true},
		{Device: "phone", Addr: "10.0.0.9:6000", Since: since},
	})
	mustContain(t, screenText(m), "Devices: 2 signed in", "> tui (this device) 10.0.0.2:5000 since 11-22 09:00", "  phone        10.0.0.9:6000")
	press(m, "r")
	mustContain(t, screenText(m), "that is this device: use /logout")
}

func TestPasswordForm(t *testing.T) {
	m := loggedIn(t)
	press(m, "tab", "/password", "enter")
	mustContain(t, screenText(m), "Change the password", "Current password:", "New again:", "focus: PASSWORD")
	press(m, "old-secret", "enter", "new-secret", "enter", "new-secrex", "enter")
	mustContain(t, screenText(m), "error: the two new passwords differ")
	mustNotContain(t, screenText(m), "old-secret", "new-secret") // masked
	press(m, "tab", "tab", "tab")                                // around to the first new field
	p := m.panel.(*passwordPanel)
	p.fields[1].SetValue("short")
	p.fields[2].SetValue("short")
	p.focus = 2
	press(m, "enter")
	mustContain(t, screenText(m), "error: the new password must be 8-128 characters")
	m.Update(passwordChangedMsg{token: "t"})
	mustContain(t, screenText(m), "password changed; every other device was signed out")
	if m.panel != nil {
		t.Fatal("form still open")
	}
	press(m, "tab", "/delete-account", "enter")
	mustContain(t, screenText(m), "Delete the account", "deletes the account for good")
	m.Update(accountDeletedMsg{})
	mustContain(t, screenText(m), "chat — log in", "the account was deleted")
}

func escKey() tea.KeyPressMsg { return tea.KeyPressMsg{Code: tea.KeyEscape} }
