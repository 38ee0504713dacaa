package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/protocol"
)

// Group administration (protocol 1.1): in an open group, /notice TEXT,
// /rename NAME, /admin USER, /unadmin USER, /mute USER [DURATION],
// /unmute USER, /transfer USER, /kick USER, and /settings: a panel with the
// name, the notice and the members with their roles and mutes, whose keys
// act on the picked member.

// defaultMute is how long /mute and the settings panel mute for.
const defaultMute = 10 * time.Minute

func (m *Model) activeGroup() (protocol.Group, bool) {
	id, err := protocol.ParseConv(m.active)
	if err != nil || !id.IsGroup() {
		return protocol.Group{}, false
	}
	return m.group(id.GroupID())
}

// groupAdmin runs a group administration command in the open group.
func (m *Model) groupAdmin(cmd string, args []string, rest string) tea.Cmd {
	g, ok := m.activeGroup()
	if !ok {
		m.setNotice("open a group first", true)
		return nil
	}
	if m.c == nil && cmd != "/settings" && cmd != "/info" {
		return nil
	}
	user := ""
	if len(args) > 0 {
		user = strings.TrimPrefix(args[0], "@")
	}
	switch cmd {
	case "/settings", "/info":
		m.openPanel(&settingsPanel{group: g.GroupID})
		return m.loadMembersCmd(g.GroupID)
	case "/notice":
		if rest == "" {
			if g.Notice == "" {
				m.setNotice(g.Name+" has no notice (/notice TEXT sets one, /notice - clears it)", false)
			} else {
				m.setNotice(g.Name+" notice: "+g.Notice, false)
			}
			return nil
		}
		if rest == "-" {
			rest = ""
		}
		return m.groupUpdateCmd(g, nil, &rest)
	case "/rename":
		if rest == "" {
			break
		}
		return m.groupUpdateCmd(g, &rest, nil)
	case "/admin", "/unadmin":
		if user == "" {
			break
		}
		role := protocol.RoleAdmin
		if cmd == "/unadmin" {
			role = protocol.RoleMember
		}
		return m.memberAction(g, user, "role", func(ctx context.Context, id int64) error {
			return m.c.GroupSetRole(ctx, g.GroupID, id, role)
		})
	case "/mute", "/unmute":
		if user == "" {
			break
		}
		d := defaultMute
		if cmd == "/mute" && len(args) > 1 {
			var err error
			if d, err = time.ParseDuration(args[1]); err != nil || d <= 0 {
				m.setNotice("usage: /mute USER [DURATION such as 30m or 2h]", true)
				return nil
			}
		}
		var until int64
		if cmd == "/mute" {
			until = m.now().Add(d).UnixMilli()
		}
		return m.memberAction(g, user, "mute", func(ctx context.Context, id int64) error {
			return m.c.GroupMute(ctx, g.GroupID, id, until)
		})
	case "/transfer":
		if user == "" {
			break
		}
		return m.memberAction(g, user, "transfer", func(ctx context.Context, id int64) error {
			return m.c.GroupTransfer(ctx, g.GroupID, id)
		})
	}
	m.setNotice("usage: /notice TEXT · /rename NAME · /admin USER · /unadmin USER · /mute USER [30m] · /unmute USER · /transfer USER · /kick USER · /settings", true)
	return nil
}

func (m *Model) groupUpdateCmd(g protocol.Group, name, text *string) tea.Cmd {
	c, refresh := m.c, m.refreshGroupsCmd()
	update := func(ctx context.Context) (*protocol.Group, error) { return c.GroupUpdate(ctx, g.GroupID, name, text) }
	return call("group", update, func(ng *protocol.Group) tea.Msg {
		return tea.BatchMsg{always(notice("%s updated", ng.Name)), refresh}
	})
}

// memberAction resolves a member by username and applies do to it.
func (m *Model) memberAction(g protocol.Group, name, what string, do func(ctx context.Context, id int64) error) tea.Cmd {
	c, reload := m.c, m.loadMembersCmd(g.GroupID)
	return request(func(ctx context.Context) tea.Msg {
		members, err := c.GroupMembers(ctx, g.GroupID)
		if err != nil {
			return failure(what, err)
		}
		for _, f := range members {
			if strings.EqualFold(f.Profile.Username, name) {
				if err := do(ctx, f.Profile.UserID); err != nil {
					return failure(what, err)
				}
				return tea.BatchMsg{always(notice("%s: done for %s in %s", what, f.Profile.Username, g.Name)), reload}
			}
		}
		return noticeMsg{text: name + " is not in " + g.Name, err: true}
	})
}

// onGroupEvent says what changed in a group and refreshes what shows it.
func (m *Model) onGroupEvent(e *protocol.GroupEventPush) tea.Cmd {
	if m.c == nil {
		return nil
	}
	g, _ := m.group(e.GroupID)
	who := m.shortName(e.UserID)
	if e.UserID == m.me.UserID {
		who = "you"
	}
	switch e.Kind {
	case protocol.GroupUpdated:
		if e.Group != nil {
			m.setNotice(fmt.Sprintf("%s updated group %s", who, e.Group.Name), false)
		}
	case protocol.GroupRoleChanged:
		m.setNotice(fmt.Sprintf("%s: %s now %s", g.Name, who, e.Role), false)
	case protocol.GroupMuted:
		if e.Until != nil && *e.Until > 0 {
			m.setNotice(fmt.Sprintf("%s: %s muted until %s", g.Name, who,
				time.UnixMilli(*e.Until).In(m.opts.Location).Format("15:04")), false)
		} else {
			m.setNotice(fmt.Sprintf("%s: %s may write again", g.Name, who), false)
		}
	case protocol.GroupTransferred:
		m.setNotice(fmt.Sprintf("%s: %s now own the group", g.Name, who), false)
	}
	cmds := []tea.Cmd{m.refreshGroupsCmd()}
	if _, loaded := m.members[e.GroupID]; loaded {
		cmds = append(cmds, m.loadMembersCmd(e.GroupID))
	}
	return tea.Batch(cmds...)
}

// settingsPanel shows a group's name, notice and members; on the picked
// member, a toggles admin, m mutes for 10 minutes or lifts the mute, x
// kicks, t transfers the group (pressed twice); n edits the notice.
type settingsPanel struct {
	group   int64
	sel     int
	pending string // the member a transfer waits to be confirmed for
}

func (p *settingsPanel) title(m *Model) string {
	g, _ := m.group(p.group)
	return fmt.Sprintf("# %s · settings (you: %s)", g.Name, m.myRole(p.group))
}

func (p *settingsPanel) hint() string {
	return "SETTINGS · ↑/↓ member · a: admin on/off · m: mute 10m/unmute · x: kick · t: transfer · n: notice"
}

func (p *settingsPanel) lines(m *Model, width int) []string {
	g, _ := m.group(p.group)
	notice := g.Notice
	if notice == "" {
		notice = "(none)"
	}
	out := []string{fit("notice: "+notice, width), fmt.Sprintf("%d members:", g.MemberCount)}
	for i, gm := range m.members[p.group] {
		prefix := "  "
		if i == p.sel {
			prefix = "> "
		}
		text := prefix + gm.Profile.Username
		if gm.Role != "" && gm.Role != protocol.RoleMember {
			text += " (" + gm.Role + ")"
		}
		if gm.MutedUntil > m.now().UnixMilli() {
			text += " muted until " + time.UnixMilli(gm.MutedUntil).In(m.opts.Location).Format("15:04")
		}
		text = fit(text, width)
		if i == p.sel {
			text = m.st.selected.Render(text)
		}
		out = append(out, text)
	}
	if p.pending != "" {
		out = append(out, "", m.st.err.Render("press t again to make "+p.pending+" the owner"))
	}
	return out
}

func (p *settingsPanel) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	members := m.members[p.group]
	g, _ := m.group(p.group)
	key := k.String()
	pending := p.pending
	p.pending = ""
	switch key {
	case "up", "k":
		p.sel = max(0, p.sel-1)
		return nil
	case "down", "j":
		p.sel = max(0, min(len(members)-1, p.sel+1))
		return nil
	case "n":
		m.closePanel()
		m.focusInput(true)
		m.input.SetValue("/notice " + g.Notice)
		return nil
	}
	if p.sel >= len(members) {
		return nil
	}
	gm := members[p.sel]
	name := gm.Profile.Username
	switch key {
	case "a":
		cmd := "/admin"
		if gm.Role == protocol.RoleAdmin {
			cmd = "/unadmin"
		}
		return m.groupAdmin(cmd, []string{name}, name)
	case "m":
		if gm.MutedUntil > m.now().UnixMilli() {
			return m.groupAdmin("/unmute", []string{name}, name)
		}
		return m.groupAdmin("/mute", []string{name}, name)
	case "x", "delete":
		return m.kickCmd(g, name)
	case "t":
		if pending != name {
			p.pending = name
			return nil
		}
		return m.groupAdmin("/transfer", []string{name}, name)
	}
	return nil
}
