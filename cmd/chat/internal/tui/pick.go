package tui

import (
	"context"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/protocol"
)

// Picking a message: ↑ in an empty input line picks the newest message of
// the open conversation; ↑/↓ move, r or enter quotes it in the next
// message (reply_to), d or delete recalls it, esc leaves.

// recalledMsg is the outcome of a recall.
type recalledMsg struct {
	conv        string
	target, seq int64 // the recalled message, the recall's own seq
	err         error
}

// pickable lists the seqs of the open conversation's messages a user can
// pick: stored, shown, not recalled.
func (m *Model) pickable() []int64 {
	cv := m.convs[m.active]
	if cv == nil || strings.HasPrefix(m.active, "r:") {
		return nil
	}
	var seqs []int64
	for _, l := range cv.lines {
		if l.seq > 0 && !l.hidden() && !l.recalled() && l.typ != "event" {
			seqs = append(seqs, l.seq)
		}
	}
	return seqs
}

// startPick picks the newest message (or seq when non-zero).
func (m *Model) startPick(seq int64) bool {
	seqs := m.pickable()
	if len(seqs) == 0 {
		return false
	}
	if seq == 0 {
		seq = seqs[len(seqs)-1]
	}
	m.pick = seq
	m.focusInput(false)
	m.showPicked()
	return true
}

// pickKey handles a key while a message is picked.
func (m *Model) pickKey(k tea.KeyPressMsg) tea.Cmd {
	seqs := m.pickable()
	i := -1
	for j, s := range seqs {
		if s == m.pick {
			i = j
		}
	}
	switch k.String() {
	case "up", "k":
		if i > 0 {
			m.pick = seqs[i-1]
		}
		m.showPicked()
		if i == 0 {
			return m.scroll(1) // at the top: load older messages
		}
	case "down", "j":
		if i >= 0 && i < len(seqs)-1 {
			m.pick = seqs[i+1]
			m.showPicked()
			return nil
		}
		m.endPick(true)
	case "r", "enter":
		m.replyTo = m.pick
		m.endPick(true)
	case "d", "delete", "backspace":
		seq := m.pick
		m.endPick(true)
		return m.recallCmd(m.active, seq)
	case "esc", "tab":
		m.endPick(k.String() == "tab")
	}
	return nil
}

func (m *Model) endPick(toInput bool) {
	m.pick = 0
	if cv := m.convs[m.active]; cv != nil {
		cv.scroll = 0
	}
	m.focusInput(toInput)
}

// showPicked scrolls the conversation so the picked message is in view.
func (m *Model) showPicked() {
	cv := m.convs[m.active]
	if cv == nil || m.pick == 0 {
		return
	}
	lines, starts := m.renderConvIdx(cv, m.paneWidth())
	start, ok := starts[m.pick]
	if !ok {
		return
	}
	ph := m.paneHeight()
	end := len(lines) - cv.scroll // one past the last visible line
	switch {
	case start < end-ph:
		cv.scroll = len(lines) - start - ph
	case start >= end:
		cv.scroll = len(lines) - start - 1
	}
	cv.scroll = max(0, cv.scroll)
}

// recallLast recalls the user's newest message in the open conversation.
func (m *Model) recallLast() tea.Cmd {
	cv := m.convs[m.active]
	if cv != nil {
		for i := len(cv.lines) - 1; i >= 0; i-- {
			l := cv.lines[i]
			if l.from == m.me.UserID && l.seq > 0 && !l.hidden() && !l.recalled() {
				return m.recallCmd(m.active, l.seq)
			}
		}
	}
	m.setNotice("no message of yours to recall here (↑ in an empty input picks any message)", true)
	return nil
}

func (m *Model) recallCmd(conv string, seq int64) tea.Cmd {
	if strings.HasPrefix(conv, "r:") || conv == "" {
		m.setNotice("open a friend or group conversation first", true)
		return nil
	}
	if m.c == nil {
		return nil
	}
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		rs, err := c.Recall(ctx, conv, seq)
		if protocol.CodeOf(err) == protocol.CodeAlreadyExists {
			err = nil // recalled before (a retry): done all the same
		}
		return recalledMsg{conv: conv, target: seq, seq: rs, err: err}
	})
}

// onRecalled shows the recall: the server does not push it back to the
// connection that made it.
func (m *Model) onRecalled(msg recalledMsg) tea.Cmd {
	if msg.err != nil {
		m.setNotice("recall: "+errText(msg.err), true)
		return nil
	}
	cv := m.conv(msg.conv)
	cv.markRecalled(msg.target)
	if msg.seq > 0 {
		cv.add(protocol.Message{Conv: msg.conv, Seq: msg.seq, From: m.me.UserID, Type: protocol.MsgTypeRecall,
			Body: protocol.RecallBody(msg.target)})
		m.noteCursors(cv, protocol.Message{Seq: msg.seq, From: m.me.UserID})
	}
	m.setNotice("message recalled", false)
	return nil
}

// parseSeq reads a message number given to a command.
func parseSeq(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	return n, err == nil && n > 0
}
