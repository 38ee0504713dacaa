package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// panel is a view that takes the conversation pane and the keys for a
// while: search results, group settings, devices, the password form.
// esc closes it.
type panel interface {
	// title is the pane's first line.
	title(m *Model) string
	// lines renders the panel's body.
	lines(m *Model, width int) []string
	// hint names the panel's keys, for the focus line.
	hint() string
	// key handles a key other than esc.
	key(m *Model, k tea.KeyPressMsg) tea.Cmd
}

// openPanel shows p and gives it the keys.
func (m *Model) openPanel(p panel) {
	m.panel = p
	m.pick = 0
	m.focusInput(false)
}

func (m *Model) closePanel() {
	m.panel = nil
}

func (m *Model) panelKey(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "esc" {
		m.closePanel()
		return nil
	}
	return m.panel.key(m, k)
}

// focusLine is the rule between the panes and the input line: it names
// what has the keys (in words, so it reads without colour too) and what
// the next message quotes.
func (m *Model) focusLine(w int) string {
	var label string
	switch {
	case m.panel != nil:
		label = "focus: " + m.panel.hint() + " · esc: close"
	case m.pick != 0:
		label = "focus: MESSAGES · ↑/↓ pick · r/enter: reply · d: recall · esc: back"
	case m.inputFocus:
		label = "focus: INPUT · enter: send · ↑ in empty line: pick a message · tab: list"
	default:
		label = "focus: LIST · ↑/↓ move · enter: open · tab or i: type"
	}
	if m.replyTo != 0 {
		if cv := m.convs[m.active]; cv != nil {
			label = "replying ↳ " + m.quote(cv, m.replyTo) + " (esc: cancel) · " + label
		}
	}
	label = ansi.Truncate("── "+label, w-1, "…") + " "
	if pad := w - ansi.StringWidth(label); pad > 0 {
		label += strings.Repeat("─", pad)
	}
	if m.inputFocus && m.panel == nil && m.pick == 0 {
		return m.st.title.Render(label)
	}
	return m.st.dim.Render(label)
}

// moreCommands runs the slash commands of protocol 1.1 features; ok is
// false for an unknown command.
func (m *Model) moreCommands(cmd string, args []string, rest string) (tea.Cmd, bool) {
	switch cmd {
	case "/search":
		return m.searchCmd(rest), true
	case "/devices", "/sessions":
		return m.devicesCmd(), true
	case "/password", "/passwd":
		m.openPanel(newPasswordPanel(false))
		return nil, true
	case "/delete-account":
		m.openPanel(newPasswordPanel(true))
		return nil, true
	case "/notice", "/rename", "/admin", "/unadmin", "/mute", "/unmute", "/transfer", "/settings", "/info":
		return m.groupAdmin(cmd, args, rest), true
	}
	return nil, false
}
