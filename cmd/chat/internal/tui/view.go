package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/chatd/chatd/protocol"
)

// Geometry of the main screen: a header line, the body (contact list and
// conversation pane), a rule, the input (2 lines) and the status line(s).
const (
	inputLines = 2
	minWidth   = 40
	minHeight  = 12
)

func (m *Model) layout() {
	m.input.SetWidth(max(m.width, minWidth))
	m.bar.SetWidth(max(10, min(30, m.width/3)))
}

func (m *Model) statusLines() []string {
	if m.xfer != nil {
		return []string{m.progressLine()}
	}
	if m.notice == "" {
		return []string{""}
	}
	// Long notices wrap (a friend request note, an error) up to 5 lines.
	lines := strings.Split(ansi.Wrap(m.notice, max(m.width, minWidth), " "), "\n")
	if len(lines) > 5 {
		lines = lines[:5]
	}
	return lines
}

func (m *Model) sideWidth() int {
	if m.width >= 60 {
		return 24
	}
	return max(12, m.width/3)
}

func (m *Model) bodyHeight() int {
	h := max(m.height, minHeight)
	return max(3, h-1-1-inputLines-len(m.statusLines()))
}

// paneWidth and paneHeight are the conversation pane's text area (below
// its title line).
func (m *Model) paneWidth() int  { return max(10, max(m.width, minWidth)-m.sideWidth()-2) }
func (m *Model) paneHeight() int { return m.bodyHeight() - 1 }

// fit truncates or pads s to exactly w cells.
func fit(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

func (m *Model) viewMain() string {
	w := max(m.width, minWidth)
	var b strings.Builder
	// Header.
	who := m.me.Username
	if m.me.Nickname != "" && m.me.Nickname != m.me.Username {
		who = m.me.Nickname + " (" + m.me.Username + ")"
	}
	header := m.st.title.Render("chat") + " · " + who + " @ " + m.server + " · " + m.connText
	if m.me.Signature != "" {
		header += " · “" + m.me.Signature + "”"
	}
	b.WriteString(fit(header, w) + "\n")

	side := m.renderSide()
	pane := m.renderPane()
	sw, bh := m.sideWidth(), m.bodyHeight()
	// Scroll the contact list so that the selection stays visible.
	if m.sel >= bh {
		side = side[m.sel-bh+1:]
	}
	for i := range bh {
		l, r := "", ""
		if i < len(side) {
			l = side[i]
		}
		if i < len(pane) {
			r = pane[i]
		}
		b.WriteString(fit(l, sw) + "│ " + fit(r, w-sw-2) + "\n")
	}
	b.WriteString(m.focusLine(w) + "\n")
	b.WriteString(m.input.View() + "\n")
	status := m.statusLines()
	for i, s := range status {
		if m.noticeErr && m.xfer == nil {
			s = m.st.err.Render(s)
		} else if m.xfer == nil {
			s = m.st.notice.Render(s)
		}
		b.WriteString(fit(s, w))
		if i < len(status)-1 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// renderSide renders the contact list.
func (m *Model) renderSide() []string {
	out := make([]string, 0, len(m.items))
	for i, it := range m.items {
		var s string
		switch it.kind {
		case itemHeader:
			out = append(out, m.st.header.Render(it.label))
			continue
		case itemRequest:
			s = "? " + it.label + " (request)"
		case itemFriend:
			mark := "○ "
			switch {
			case !m.connected:
				mark = "◌ " // presence unknown while the connection is down
			case m.online[it.id]:
				mark = m.st.online.Render("●") + " "
			}
			s = mark + it.label
		case itemGroup:
			s = "# " + it.label
		case itemRoom:
			s = "@ " + it.label
		}
		if cv := m.convs[it.key]; it.key != "" && cv != nil && cv.unreadCount() > 0 {
			s += " " + m.st.unread.Render("("+strconv.Itoa(cv.unreadCount())+")")
			if cv.mentionSeq > cv.readSeq {
				s += m.st.unread.Render(" @me")
			}
		}
		// ">" marks the selection, "»" the open conversation.
		prefix := "  "
		if it.key != "" && it.key == m.active {
			prefix = "» "
		}
		if i == m.sel {
			prefix = "> "
			if !m.inputFocus {
				s = m.st.selected.Render(s)
			}
		}
		out = append(out, prefix+s)
	}
	return out
}

// renderPane renders the conversation title and the visible messages.
func (m *Model) renderPane() []string {
	pw, ph := m.paneWidth(), m.paneHeight()
	if m.panel != nil {
		lines := m.panel.lines(m, pw)
		if len(lines) > ph {
			lines = lines[:ph]
		}
		return append([]string{m.st.title.Render(m.panel.title(m))}, lines...)
	}
	cv := m.convs[m.active]
	if m.active == "" || cv == nil {
		return []string{
			m.st.dim.Render("No conversation open."),
			"",
			"tab: switch between the list and the input",
			"↑/↓ then enter: open a conversation",
			"a / x on a request: accept / reject",
			"/help: all commands",
		}
	}
	title := m.convTitle(cv)
	if t := m.typingText(cv.key); t != "" {
		title += " · " + t
	}
	lines := m.renderConv(cv, pw)
	end := len(lines) - cv.scroll
	start := max(0, end-ph)
	if cv.scroll > 0 {
		title += m.st.dim.Render(fmt.Sprintf("  [scrolled up %d — pgdn]", cv.scroll))
	} else if cv.loading {
		title += m.st.dim.Render("  [loading…]")
	} else if cv.hasOlder() {
		title += m.st.dim.Render("  [pgup: older]")
	}
	out := []string{m.st.title.Render(title)}
	return append(out, lines[start:max(start, end)]...)
}

func (m *Model) convTitle(cv *conv) string {
	if id := m.activeRoom(); id != 0 {
		for _, r := range m.rooms {
			if r.id == id && r.name != "" {
				return fmt.Sprintf("@ %s (room %d, live)", r.name, id)
			}
		}
		return fmt.Sprintf("@ room %d (live)", id)
	}
	id, err := protocol.ParseConv(cv.key)
	if err != nil {
		return cv.key
	}
	if id.IsGroup() {
		if g, ok := m.group(id.GroupID()); ok {
			title := fmt.Sprintf("# %s (%d members)", g.Name, g.MemberCount)
			if g.Notice != "" {
				title += " · notice: " + strings.ReplaceAll(g.Notice, "\n", " ")
			}
			return title
		}
		return cv.key
	}
	peer := id.Peer(m.me.UserID)
	state := "offline"
	switch {
	case !m.connected:
		// What we knew of the friend's presence is stale until the
		// connection is back and the friend list refreshed.
		state = "presence unknown (" + m.connText + ")"
	case m.online[peer]:
		state = "online"
	}
	title := m.name(peer) + " · " + state
	if p, ok := m.profiles[peer]; ok && p.Signature != "" {
		title += " · “" + p.Signature + "”"
	}
	return title
}

// renderConv renders every message of cv as wrapped display lines.
func (m *Model) renderConv(cv *conv, width int) []string {
	out, _ := m.renderConvIdx(cv, width)
	return out
}

// renderConvIdx renders cv and also returns, per stored message seq, the
// index of its first display line (to keep a picked message in view).
func (m *Model) renderConvIdx(cv *conv, width int) ([]string, map[int64]int) {
	private := strings.HasPrefix(cv.key, "p:")
	var out []string
	starts := map[int64]int{}
	for _, l := range cv.lines {
		if l.hidden() {
			continue
		}
		if l.typ == "event" {
			out = append(out, m.st.dim.Render("— "+m.shortName(l.from)+" "+l.body+" —"))
			continue
		}
		if l.seq > 0 {
			starts[l.seq] = len(out)
		}
		if l.replyTo > 0 {
			out = append(out, m.st.dim.Render(ansi.Truncate("      ↳ "+m.quote(cv, l.replyTo), width, "…")))
		}
		stamp := "     "
		if l.ts > 0 {
			stamp = time.UnixMilli(l.ts).In(m.opts.Location).Format("15:04")
		}
		nameStyle := m.st.other
		if l.from == m.me.UserID {
			nameStyle = m.st.me
		}
		body := l.body
		switch {
		case l.recalled():
			body = m.st.dim.Render("(recalled)")
		case l.typ == protocol.MsgFile:
			body = m.fileLabel(l.body)
		}
		state := ""
		if l.from == m.me.UserID && l.seq >= 0 && !l.recalled() {
			switch {
			case l.failed:
				state = " ✗ not sent"
			case l.pending:
				state = " …"
			case private && cv.peerRead >= l.seq:
				state = " ✓✓"
			default:
				state = " ✓"
			}
		}
		name := m.shortName(l.from)
		if m.mentionsMe(&l) {
			name += " [@me]"
		}
		mark := ""
		if m.pick != 0 && l.seq == m.pick && cv.key == m.active {
			mark = "▶ "
		}
		text := mark + stamp + " " + nameStyle.Render(name) + ": " + body + m.st.dim.Render(state)
		wrapped := ansi.Wrap(text, width, " ")
		if mark != "" {
			wrapped = m.st.selected.Render(wrapped)
		}
		out = append(out, strings.Split(wrapped, "\n")...)
	}
	return out, starts
}

// quote is the one-line excerpt of message seq that a reply shows.
func (m *Model) quote(cv *conv, seq int64) string {
	l := cv.line(seq)
	switch {
	case l == nil:
		return fmt.Sprintf("re message #%d", seq)
	case l.recalled():
		return "re " + m.shortName(l.from) + ": (recalled)"
	case l.typ == protocol.MsgFile:
		return "re " + m.shortName(l.from) + ": " + m.fileLabel(l.body)
	}
	return "re " + m.shortName(l.from) + ": " + strings.ReplaceAll(l.body, "\n", " ")
}

// mentionsMe reports whether someone else's message names the user or
// everyone.
func (m *Model) mentionsMe(l *line) bool {
	if l.from == m.me.UserID || l.recalled() {
		return false
	}
	return l.mentionAll || slices.Contains(l.mentions, m.me.UserID)
}

func (m *Model) progressLine() string {
	x := m.xfer
	pct := 0.0
	if x.total > 0 {
		pct = float64(x.done) / float64(x.total)
	}
	bar := m.bar.ViewAs(pct)
	if m.opts.NoColor {
		// The bubbles bar is coloured; without colour its halves would
		// differ only by glyph, so draw a plain ASCII bar instead.
		n := m.bar.Width()
		full := int(pct*float64(n) + 0.5)
		bar = "[" + strings.Repeat("#", full) + strings.Repeat(".", n-full) + "]"
	}
	return fmt.Sprintf("%s %s %3.0f%% %s/%s", x.label, bar, pct*100,
		humanBytes(x.done), humanBytes(x.total))
}
