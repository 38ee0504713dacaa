package tui

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/cmd/chat/internal/config"
	"github.com/chatd/chatd/protocol"
)

// sessionsMsg is the account's live sessions (account.sessions).
type sessionsMsg []protocol.SessionInfo

// devicesPanel lists the account's live sessions on every node: ↑/↓ pick
// one, r revokes it (signs that device out), u reloads.
type devicesPanel struct {
	sessions []protocol.SessionInfo
	loaded   bool
	sel      int
}

func (m *Model) devicesCmd() tea.Cmd {
	m.openPanel(&devicesPanel{})
	return m.loadSessionsCmd()
}

func (m *Model) loadSessionsCmd() tea.Cmd {
	if m.c == nil {
		return nil
	}
	return call("devices", m.c.Sessions, func(s []protocol.SessionInfo) tea.Msg { return sessionsMsg(s) })
}

func (m *Model) onSessions(s sessionsMsg) {
	if p, ok := m.panel.(*devicesPanel); ok {
		p.sessions, p.loaded = s, true
		p.sel = min(p.sel, max(0, len(s)-1))
	}
}

func (p *devicesPanel) title(*Model) string {
	if !p.loaded {
		return "Devices: loading…"
	}
	return fmt.Sprintf("Devices: %d signed in", len(p.sessions))
}

func (p *devicesPanel) hint() string {
	return "DEVICES · ↑/↓ pick · r: sign that device out · u: reload · /password: change password"
}

func (p *devicesPanel) lines(m *Model, width int) []string {
	var out []string
	for i, s := range p.sessions {
		prefix := "  "
		if i == p.sel {
			prefix = "> "
		}
		dev := s.Device
		if s.Current {
			dev += " (this device)"
		}
		text := fmt.Sprintf("%s%-12s %s since %s", prefix, dev, s.Addr,
			time.UnixMilli(s.Since).In(m.opts.Location).Format("01-02 15:04"))
		text = fit(text, width)
		if i == p.sel {
			text = m.st.selected.Render(text)
		}
		out = append(out, text)
	}
	return out
}

func (p *devicesPanel) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "up", "k":
		p.sel = max(0, p.sel-1)
	case "down", "j":
		p.sel = max(0, min(len(p.sessions)-1, p.sel+1))
	case "u":
		return m.loadSessionsCmd()
	case "r", "x", "delete":
		if p.sel >= len(p.sessions) {
			return nil
		}
		s := p.sessions[p.sel]
		if s.Current {
			m.setNotice("that is this device: use /logout", true)
			return nil
		}
		if m.c == nil {
			return nil
		}
		c, reload := m.c, m.loadSessionsCmd()
		revoke := func(ctx context.Context) error { return c.RevokeDevice(ctx, s.Device) }
		return exec("revoke", revoke, func() tea.Msg {
			return tea.BatchMsg{always(notice("signed out device %s", s.Device)), reload}
		})
	}
	return nil
}

// passwordPanel is the form of /password (current, new, new again) and,
// with del set, of /delete-account (the password only).
type passwordPanel struct {
	del    bool
	fields []textinput.Model
	focus  int
	errMsg string
}

func newPasswordPanel(del bool) *passwordPanel {
	labels := []string{"Current password: ", "New password:     ", "New again:        "}
	if del {
		labels = []string{"Password: "}
	}
	p := &passwordPanel{del: del}
	for _, l := range labels {
		ti := textinput.New()
		ti.Prompt = l
		ti.EchoMode = textinput.EchoPassword
		ti.SetStyles(textinput.Styles{})
		p.fields = append(p.fields, ti)
	}
	p.fields[0].Focus()
	return p
}

func (p *passwordPanel) title(*Model) string {
	if p.del {
		return "Delete the account"
	}
	return "Change the password"
}

func (p *passwordPanel) hint() string {
	if p.del {
		return "DELETE ACCOUNT · type the password · enter: delete for good"
	}
	return "PASSWORD · tab/↓: next field · enter: change"
}

func (p *passwordPanel) lines(m *Model, width int) []string {
	var out []string
	if p.del {
		out = append(out, "This deletes the account for good: friends, groups",
			"you own and every session go; your messages stay.", "")
	} else {
		out = append(out, "Every other device is signed out; this one stays.",
			"The new password: 8-128 characters.", "")
	}
	for i, f := range p.fields {
		prefix := "  "
		if i == p.focus {
			prefix = "> "
		}
		out = append(out, fit(prefix+f.View(), width))
	}
	if p.errMsg != "" {
		out = append(out, "", m.st.err.Render("error: "+p.errMsg))
	}
	return out
}

func (p *passwordPanel) setFocus(i int) tea.Cmd {
	p.fields[p.focus].Blur()
	p.focus = i
	return p.fields[i].Focus()
}

func (p *passwordPanel) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "tab", "down":
		return p.setFocus((p.focus + 1) % len(p.fields))
	case "shift+tab", "up":
		return p.setFocus((p.focus + len(p.fields) - 1) % len(p.fields))
	case "enter":
		if p.focus < len(p.fields)-1 {
			return p.setFocus(p.focus + 1)
		}
		return p.submit(m)
	}
	var cmd tea.Cmd
	p.fields[p.focus], cmd = p.fields[p.focus].Update(k)
	return cmd
}

// passwordChangedMsg carries the new token of this device.
type passwordChangedMsg struct{ token string }

// accountDeletedMsg ends the session of a deleted account.
type accountDeletedMsg struct{}

func (p *passwordPanel) submit(m *Model) tea.Cmd {
	old := p.fields[0].Value()
	if old == "" {
		p.errMsg = "type your current password"
		return p.setFocus(0)
	}
	c := m.c
	if p.del {
		if c == nil {
			return nil
		}
		return request(func(ctx context.Context) tea.Msg {
			if err := c.DeleteAccount(ctx, old); err != nil {
				return failure("delete account", err)
			}
			return accountDeletedMsg{}
		})
	}
	newPw, again := p.fields[1].Value(), p.fields[2].Value()
	limits := protocol.DefaultLimits()
	switch {
	case limits.CheckPassword(newPw) != nil:
		p.errMsg = fmt.Sprintf("the new password must be %d-%d characters", limits.MinPassword, limits.MaxPassword)
		return p.setFocus(1)
	case newPw != again:
		p.errMsg = "the two new passwords differ"
		p.fields[2].SetValue("")
		return p.setFocus(2)
	}
	p.errMsg = ""
	if c == nil {
		return nil
	}
	tokens, server, user := m.opts.Tokens, m.server, m.me.Username
	return request(func(ctx context.Context) tea.Msg {
		token, err := c.ChangePassword(ctx, old, newPw)
		if err != nil {
			return failure("password", err)
		}
		if tokens != nil {
			// The old token was revoked with every other: remember the new.
			_ = tokens.Put(server, config.Session{Username: user, Token: token})
		}
		return passwordChangedMsg{token: token}
	})
}
