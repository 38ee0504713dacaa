package tui

import "testing"

// TestFocusIsNamed: the line above the input says in words which pane
// takes the keys, so it reads without colour.
func TestFocusIsNamed(t *testing.T) {
	m := loggedIn(t)
	s := screenText(m)
	mustContain(t, s, "── focus: LIST · ↑/↓ move · enter: open · tab or i: type")
	press(m, "tab")
	mustContain(t, screenText(m), "── focus: INPUT · enter: send")
	press(m, "tab")
	mustContain(t, screenText(m), "── focus: LIST")
	// Opening a conversation hands the keys to the input, and says so.
	press(m, "enter")
	mustContain(t, screenText(m), "── focus: INPUT")
}
