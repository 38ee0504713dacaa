package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/chatd/chatd/protocol"
)

// updateLogin handles the login/register screen: tab moves between
// fields, ctrl+r switches between logging in and registering, ctrl+l
// fills the server field with the next server found on the LAN, enter
// submits.
func (m *Model) updateLogin(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "tab", "down":
			return m.focusField((m.focus + 1) % m.numFields())
		case "shift+tab", "up":
			return m.focusField((m.focus + m.numFields() - 1) % m.numFields())
		case "ctrl+r":
			m.register = !m.register
			m.loginErr = ""
			if !m.register && m.focus == fieldConfirm {
				return m.focusField(fieldPassword)
			}
			return nil
		case "ctrl+l":
			if len(m.discovered) > 0 {
				cur := m.fields[fieldServer].Value()
				next := m.discovered[0].ChatAddr
				for i, d := range m.discovered {
					if d.ChatAddr == cur {
						next = m.discovered[(i+1)%len(m.discovered)].ChatAddr
					}
				}
				m.fields[fieldServer].SetValue(next)
			}
			return nil
		case "enter":
			if m.busy != "" {
				return nil
			}
			if next := m.nextEmpty(); next >= 0 {
				return m.focusField(next)
			}
			return m.submitLogin()
		}
	}
	var cmd tea.Cmd
	m.fields[m.focus], cmd = m.fields[m.focus].Update(msg)
	return cmd
}

// numFields is how many fields the form shows: the confirmation only
// when registering.
func (m *Model) numFields() int {
	if m.register {
		return numFields
	}
	return fieldConfirm
}

// nextEmpty returns the field enter should move to instead of submitting:
// the next one after the focused field while a password field is still
// empty, or -1 to submit.
func (m *Model) nextEmpty() int {
	if m.fields[fieldPassword].Value() == "" && m.focus < fieldPassword {
		return m.focus + 1
	}
	if m.register && m.fields[fieldConfirm].Value() == "" && m.focus < fieldConfirm {
		return m.focus + 1
	}
	return -1
}

// registerRules are the account rules, shown on the register form before
// the user tries (protocol section 4).
const registerRules = "username: 3-32 letters, digits or _ · password: 8-128 characters, typed twice"

func (m *Model) focusField(i int) tea.Cmd {
	m.fields[m.focus].Blur()
	m.focus = i
	return m.fields[i].Focus()
}

// submitLogin validates the form locally and starts the connection.
func (m *Model) submitLogin() tea.Cmd {
	server := strings.TrimSpace(m.fields[fieldServer].Value())
	user := strings.TrimSpace(m.fields[fieldUser].Value())
	pass := m.fields[fieldPassword].Value()
	switch {
	case server == "":
		m.loginErr = "server address required"
		return nil
	case user == "":
		m.loginErr = "username required"
		return nil
	case pass == "":
		m.loginErr = "password required"
		return nil
	}
	if m.register {
		limits := protocol.DefaultLimits()
		switch {
		case protocol.CheckUsername(user) != nil:
			m.loginErr = "the username must be 3-32 letters, digits or _"
			return nil
		case limits.CheckPassword(pass) != nil:
			m.loginErr = fmt.Sprintf("the password must be %d-%d characters", limits.MinPassword, limits.MaxPassword)
			return nil
		case pass != m.fields[fieldConfirm].Value():
			m.loginErr = "the two passwords differ: type the same password twice"
			m.fields[fieldConfirm].SetValue("")
			return m.focusField(fieldConfirm)
		}
	}
	m.loginErr = ""
	if m.register {
		m.busy = "Registering " + user + " at " + server + "…"
	} else {
		m.busy = "Logging in as " + user + " at " + server + "…"
	}
	return m.connectCmd(server, user, pass, "", m.register)
}

func (m *Model) viewLogin() string {
	var b strings.Builder
	title := "chat — log in"
	if m.register {
		title = "chat — register a new account"
	}
	b.WriteString(m.st.title.Render(title) + "\n\n")
	if m.register {
		b.WriteString(m.st.dim.Render(ansi.Wrap(registerRules, max(m.width, minWidth), " ")) + "\n\n")
	}
	for i := range m.numFields() {
		marker := "  "
		if i == m.focus {
			marker = "> "
		}
		b.WriteString(marker + m.fields[i].View() + "\n")
	}
	b.WriteString("\n")
	switch {
	case m.busy != "":
		b.WriteString(m.st.notice.Render(m.busy) + "\n")
	case m.loginErr != "":
		b.WriteString(m.st.err.Render(ansi.Wrap("error: "+m.loginErr, max(m.width, minWidth), " ")) + "\n")
	default:
		b.WriteString("\n")
	}
	if len(m.discovered) > 0 {
		b.WriteString("\nServers on the LAN (ctrl+l to use):\n")
		for _, d := range m.discovered {
			fmt.Fprintf(&b, "  %s  %s  (version %s)\n", d.ChatAddr, d.Name, d.Version)
		}
	}
	mode := "ctrl+r: register instead"
	if m.register {
		mode = "ctrl+r: log in instead"
	}
	b.WriteString("\n" + m.st.dim.Render("tab: next field · enter: submit · "+mode+" · ctrl+c: quit"))
	return b.String()
}
