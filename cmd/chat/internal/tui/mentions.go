package tui

import (
	"context"
	"sort"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/protocol"
)

// membersMsg carries a group's member list, kept for @name completion,
// mentions and the settings panel.
type membersMsg struct {
	group   int64
	members []protocol.GroupMember
}

// loadMembersCmd fetches a group's members without a notice.
func (m *Model) loadMembersCmd(gid int64) tea.Cmd {
	if m.c == nil {
		return nil
	}
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		ms, err := c.GroupMembers(ctx, gid)
		if err != nil {
			return nil // completion just offers less
		}
		return membersMsg{group: gid, members: ms}
	})
}

func (m *Model) onMembers(msg membersMsg) {
	m.members[msg.group] = msg.members
	for _, gm := range msg.members {
		m.profiles[gm.Profile.UserID] = gm.Profile
	}
}

// myRole is the user's role in a group, as far as the UI knows.
func (m *Model) myRole(gid int64) string {
	for _, gm := range m.members[gid] {
		if gm.Profile.UserID == m.me.UserID && gm.Role != "" {
			return gm.Role
		}
	}
	if g, ok := m.group(gid); ok && g.Owner == m.me.UserID {
		return protocol.RoleOwner
	}
	return protocol.RoleMember
}

// mentionWord trims what may follow an @name in a sentence.
func mentionWord(w string) string {
	return strings.TrimRightFunc(w, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') })
}

// mentionsIn finds the @username words of text that name members of the
// group (sent as mentions) and @all (mention_all, for owners and admins).
func (m *Model) mentionsIn(gid int64, text string) (ids []int64, all bool) {
	for _, w := range strings.Fields(text) {
		if !strings.HasPrefix(w, "@") {
			continue
		}
		name := mentionWord(w[1:])
		if strings.EqualFold(name, "all") && m.myRole(gid) != protocol.RoleMember {
			all = true
			continue
		}
		for _, gm := range m.members[gid] {
			id := gm.Profile.UserID
			if strings.EqualFold(gm.Profile.Username, name) && id != m.me.UserID && !containsID(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, all
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// completeMention completes the @word the input line ends with from the
// open group's members: one match is filled in, several are listed (and
// their common beginning filled in). It reports whether it applied.
func (m *Model) completeMention() bool {
	id, err := protocol.ParseConv(m.active)
	if err != nil || !id.IsGroup() {
		return false
	}
	text := m.input.Value()
	i := strings.LastIndexAny(text, " \n")
	word := text[i+1:]
	if !strings.HasPrefix(word, "@") {
		return false
	}
	prefix := strings.ToLower(word[1:])
	var names []string
	if m.myRole(id.GroupID()) != protocol.RoleMember {
		names = append(names, "all")
	}
	for _, gm := range m.members[id.GroupID()] {
		if gm.Profile.UserID != m.me.UserID {
			names = append(names, gm.Profile.Username)
		}
	}
	var matches []string
	for _, n := range names {
		if strings.HasPrefix(strings.ToLower(n), prefix) {
			matches = append(matches, n)
		}
	}
	sort.Strings(matches)
	switch len(matches) {
	case 0:
		m.setNotice("no member starts with "+word, true)
	case 1:
		m.input.SetValue(text[:i+1] + "@" + matches[0] + " ")
	default:
		common := matches[0]
		for _, n := range matches[1:] {
			for !strings.HasPrefix(strings.ToLower(n), strings.ToLower(common)) {
				common = common[:len(common)-1]
			}
		}
		if len(common) > len(prefix) {
			m.input.SetValue(text[:i+1] + "@" + common)
		}
		m.setNotice("@"+strings.Join(matches, " @"), false)
	}
	return true
}

// inputKey handles the keys that mean more than typing in the input
// line: ↑ in an empty line picks a message, tab after @ completes a name.
func (m *Model) inputKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	switch k.String() {
	case "up":
		if m.input.Value() == "" && m.startPick(0) {
			return nil, true
		}
	case "tab":
		if m.completeMention() {
			return nil, true
		}
	}
	return nil, false
}
