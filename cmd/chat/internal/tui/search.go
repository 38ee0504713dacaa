package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/chatd/chatd/protocol"
)

// searchMsg is a page of msg.search results.
type searchMsg struct {
	query string
	resp  *protocol.MsgSearchResp
	more  bool // a further page, appended to the shown results
}

// searchPanel lists the matches of /search TEXT, newest first: ↑/↓ pick
// one, enter opens its conversation at the message, n loads more.
type searchPanel struct {
	query   string
	results []protocol.Message
	more    bool
	loading bool
	sel     int
}

func (m *Model) searchCmd(query string) tea.Cmd {
	query = strings.TrimSpace(query)
	if query == "" {
		m.setNotice("usage: /search TEXT (in every conversation; enter on a result opens it)", true)
		return nil
	}
	m.openPanel(&searchPanel{query: query, loading: true})
	return m.searchPageCmd(query, 0)
}

func (m *Model) searchPageCmd(query string, before int64) tea.Cmd {
	if m.c == nil {
		return nil
	}
	c := m.c
	search := func(ctx context.Context) (*protocol.MsgSearchResp, error) {
		return c.SearchMessages(ctx, protocol.MsgSearchReq{Query: query, BeforeMsgID: before})
	}
	return call("search", search, func(r *protocol.MsgSearchResp) tea.Msg {
		return searchMsg{query: query, resp: r, more: before != 0}
	})
}

func (m *Model) onSearch(msg searchMsg) tea.Cmd {
	p, ok := m.panel.(*searchPanel)
	if !ok || p.query != msg.query {
		return nil // closed, or another search since
	}
	if !msg.more {
		p.results = p.results[:0]
	}
	p.results = append(p.results, msg.resp.Messages...)
	p.more, p.loading = msg.resp.More, false
	var unknown []tea.Cmd
	for _, r := range msg.resp.Messages {
		if _, known := m.profiles[r.From]; !known && m.c != nil {
			m.profiles[r.From] = protocol.Profile{UserID: r.From, Username: fmt.Sprintf("user#%d", r.From)}
			unknown = append(unknown, m.profileCmd(r.From))
		}
	}
	return tea.Batch(unknown...)
}

func (p *searchPanel) title(*Model) string {
	switch {
	case p.loading && len(p.results) == 0:
		return fmt.Sprintf("Search %q: searching…", p.query)
	case len(p.results) == 0:
		return fmt.Sprintf("Search %q: no messages found", p.query)
	}
	more := ""
	if p.more {
		more = ", n: more"
	}
	return fmt.Sprintf("Search %q: %d results%s", p.query, len(p.results), more)
}

func (p *searchPanel) hint() string {
	return "SEARCH · ↑/↓ pick · enter: open at the message · n: more"
}

func (p *searchPanel) lines(m *Model, width int) []string {
	out := make([]string, 0, len(p.results))
	for i, r := range p.results {
		prefix := "  "
		if i == p.sel {
			prefix = "> "
		}
		stamp := time.UnixMilli(r.Ts).In(m.opts.Location).Format("01-02 15:04")
		text := prefix + m.convName(r.Conv) + " · " + stamp + " " + m.shortName(r.From) + ": " + strings.ReplaceAll(r.Body, "\n", " ")
		text = ansi.Truncate(text, width, "…")
		if i == p.sel {
			text = m.st.selected.Render(text)
		}
		out = append(out, text)
	}
	// Keep the selection in view.
	if h := m.paneHeight(); p.sel >= h {
		out = out[p.sel-h+1:]
	}
	return out
}

func (p *searchPanel) key(m *Model, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "up", "k":
		p.sel = max(0, p.sel-1)
	case "down", "j":
		p.sel = min(len(p.results)-1, p.sel+1)
		if p.sel == len(p.results)-1 && p.more && !p.loading {
			p.loading = true
			return m.searchPageCmd(p.query, p.results[len(p.results)-1].MsgID)
		}
	case "n":
		if p.more && !p.loading && len(p.results) > 0 {
			p.loading = true
			return m.searchPageCmd(p.query, p.results[len(p.results)-1].MsgID)
		}
	case "enter":
		if p.sel < len(p.results) {
			r := p.results[p.sel]
			m.closePanel()
			return m.jumpTo(r.Conv, r.Seq)
		}
	}
	return nil
}

// convName names a conversation for a list of results.
func (m *Model) convName(key string) string {
	id, err := protocol.ParseConv(key)
	if err != nil {
		return key
	}
	if id.IsGroup() {
		if g, ok := m.group(id.GroupID()); ok {
			return "#" + g.Name
		}
		return key
	}
	return m.shortName(id.Peer(m.me.UserID))
}

// jumpedMsg is the history loaded so that a jump's target is in view.
type jumpedMsg struct {
	conv string
	seq  int64
	hist historyMsg
}

// jumpTo opens conv with message seq picked, loading the history from a
// little before it up to what the conversation already holds.
func (m *Model) jumpTo(conv string, seq int64) tea.Cmd {
	open := m.open(conv)
	cv := m.conv(conv)
	if cv.line(seq) != nil {
		m.startPick(seq)
		return open
	}
	if m.c == nil {
		return open
	}
	c := m.c
	after := max(0, seq-10)
	until := cv.lastSeq
	if cv.oldest > 0 {
		until = cv.oldest - 1
	}
	until = max(until, seq)
	return tea.Batch(open, request(func(ctx context.Context) tea.Msg {
		var msgs []protocol.Message
		for from := after; from < until; {
			r, err := c.Sync(ctx, conv, from, int(min(500, until-from)))
			if err != nil {
				return jumpedMsg{conv: conv, seq: seq, hist: historyMsg{conv: conv, after: after, err: err}}
			}
			msgs = append(msgs, r.Messages...)
			if len(r.Messages) == 0 || !r.More {
				break
			}
			from = r.Messages[len(r.Messages)-1].Seq
		}
		return jumpedMsg{conv: conv, seq: seq, hist: historyMsg{conv: conv, after: after, msgs: msgs}}
	}))
}

func (m *Model) onJumped(msg jumpedMsg) tea.Cmd {
	cmd := m.onHistory(msg.hist)
	if msg.conv == m.active {
		m.startPick(msg.seq)
	}
	return cmd
}
