package tui

import (
	"context"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/protocol"
)

const (
	// typingEvery is how often typing notices go out while the user
	// types: the server pushes at most one per user and conversation
	// every 3 s, so sending more often would only cost requests.
	typingEvery = 3 * time.Second
	// typingShown is how long "X is typing" stays without a new notice:
	// a little over the 3 s window, so a steady typist does not flicker.
	typingShown = 5 * time.Second
)

// typingExpiredMsg asks to drop a typing mark that may have run out.
type typingExpiredMsg struct {
	conv string
	user int64
}

func (m *Model) now() time.Time {
	if m.opts.Now != nil {
		return m.opts.Now()
	}
	return time.Now()
}

// noteTyping sends a typing notice for the open conversation when the
// user typed text (not a command) and none went out within typingEvery.
func (m *Model) noteTyping(before string) tea.Cmd {
	text := m.input.Value()
	if text == before || text == "" || strings.HasPrefix(text, "/") || m.c == nil {
		return nil
	}
	conv := m.active
	if _, err := protocol.ParseConv(conv); err != nil {
		return nil // rooms have no typing notices
	}
	now := m.now()
	if last, ok := m.typingSent[conv]; ok && now.Sub(last) < typingEvery {
		return nil
	}
	m.typingSent[conv] = now
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		_ = c.Typing(ctx, conv) // best effort: a lost notice shows nothing
		return nil
	})
}

// onTyping marks user as typing in conv for typingShown.
func (m *Model) onTyping(p *protocol.TypingPush) tea.Cmd {
	if p.UserID == m.me.UserID {
		return nil
	}
	if m.typing[p.Conv] == nil {
		m.typing[p.Conv] = map[int64]time.Time{}
	}
	m.typing[p.Conv][p.UserID] = m.now().Add(typingShown)
	msg := typingExpiredMsg{conv: p.Conv, user: p.UserID}
	return tea.Tick(typingShown, func(time.Time) tea.Msg { return msg })
}

// stopTyping drops a typing mark: expired, or the user's message came.
func (m *Model) stopTyping(conv string, user int64, onlyExpired bool) {
	until, ok := m.typing[conv][user]
	if !ok || (onlyExpired && m.now().Before(until)) {
		return
	}
	delete(m.typing[conv], user)
}

// typingText is the conversation header's "bob is typing…", or "".
func (m *Model) typingText(conv string) string {
	var names []string
	for id, until := range m.typing[conv] {
		if m.now().Before(until) {
			names = append(names, m.shortName(id))
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	if len(names) == 1 {
		return names[0] + " is typing…"
	}
	return strings.Join(names, ", ") + " are typing…"
}
