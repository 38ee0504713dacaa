package tui

import (
	"sort"
	"strconv"
	"strings"

	"github.com/chatd/chatd/protocol"
)

// line is one message shown in a conversation.
type line struct {
	seq     int64 // 0 while an own message awaits its reply
	from    int64
	ts      int64
	typ     string
	body    string
	cmid    string
	pending bool
	failed  bool
	// Protocol 1.1: the seq this message quotes, whom it mentions.
	replyTo    int64
	mentions   []int64
	mentionAll bool
}

// recalled reports whether the line is a message that was taken back.
func (l *line) recalled() bool { return l.typ == protocol.MsgTypeRecalled }

// hidden lines hold a seq but show nothing of their own: recall notices
// (their effect shows on the message they recall).
func (l *line) hidden() bool { return l.typ == protocol.MsgTypeRecall }

// conv is what the UI knows of one conversation (or live room).
type conv struct {
	key      string
	lines    []line
	lastSeq  int64 // highest seq known on the server
	readSeq  int64 // own read cursor
	peerRead int64 // highest seq the other user has read (private only)
	// mentionSeq is the highest unread seq that mentions the user (or
	// everyone), 0 when none.
	mentionSeq int64
	unread     int  // live rooms only (no seqs there); see unreadCount
	loaded     bool // history requested once
	oldest     int64
	loading    bool
	scroll     int // lines scrolled up from the bottom
}

func (m *Model) conv(key string) *conv {
	cv := m.convs[key]
	if cv == nil {
		cv = &conv{key: key}
		m.convs[key] = cv
	}
	return cv
}

// add inserts a stored message in seq order, ignoring repeats. It reports
// whether the message was new.
func (cv *conv) add(msg protocol.Message) bool {
	if msg.Type == protocol.MsgTypeRecall {
		if target, err := protocol.ParseRecallBody(msg.Body); err == nil {
			cv.markRecalled(target)
		}
	}
	for i := range cv.lines {
		l := &cv.lines[i]
		if l.seq == msg.Seq && msg.Seq != 0 {
			if msg.Type == protocol.MsgTypeRecalled {
				l.typ, l.body = msg.Type, ""
			}
			return false
		}
		// Our own message, sent from this screen, confirmed by a push
		// to another of our devices or by history: merge.
		if l.cmid != "" && l.cmid == msg.ClientMsgID && l.from == msg.From {
			l.seq, l.ts, l.pending = msg.Seq, msg.Ts, false
			cv.sortLines()
			return false
		}
	}
	cv.lines = append(cv.lines, line{seq: msg.Seq, from: msg.From, ts: msg.Ts, typ: msg.Type,
		body: msg.Body, cmid: msg.ClientMsgID, replyTo: msg.ReplyTo, mentions: msg.Mentions, mentionAll: msg.MentionAll})
	cv.sortLines()
	cv.lastSeq = max(cv.lastSeq, msg.Seq)
	if cv.oldest == 0 || msg.Seq < cv.oldest {
		cv.oldest = msg.Seq
	}
	return true
}

// markRecalled shows message seq as recalled.
func (cv *conv) markRecalled(seq int64) {
	if l := cv.line(seq); l != nil {
		l.typ, l.body = protocol.MsgTypeRecalled, ""
	}
}

// line returns the stored message seq, nil when it is not loaded.
func (cv *conv) line(seq int64) *line {
	for i := range cv.lines {
		if cv.lines[i].seq == seq && seq > 0 {
			return &cv.lines[i]
		}
	}
	return nil
}

// sortLines keeps stored messages in seq order with pending ones last.
func (cv *conv) sortLines() {
	sort.SliceStable(cv.lines, func(i, j int) bool {
		a, b := cv.lines[i], cv.lines[j]
		if (a.seq == 0) != (b.seq == 0) {
			return b.seq == 0
		}
		return a.seq < b.seq
	})
}

// unreadCount is how many messages wait to be read: everything above the
// own read cursor for stored conversations, the live counter for rooms.
func (cv *conv) unreadCount() int {
	if strings.HasPrefix(cv.key, "r:") {
		return cv.unread
	}
	return int(max(0, cv.lastSeq-cv.readSeq))
}

// hasOlder reports whether history before the oldest loaded message exists.
func (cv *conv) hasOlder() bool { return cv.oldest > 1 }

// item is one row of the contact list.
type itemKind int

const (
	itemHeader itemKind = iota
	itemFriend
	itemGroup
	itemRoom
	itemRequest
)

type item struct {
	kind  itemKind
	label string
	id    int64  // user, group, room or request id
	key   string // conversation key (friends, groups, rooms)
}

func roomKey(id int64) string { return "r:" + strconv.FormatInt(id, 10) }

// rebuildItems lays out the contact list: requests first (they need an
// answer), then friends, groups and rooms.
func (m *Model) rebuildItems() {
	prevKey, prevID, prevKind := "", int64(0), itemHeader
	if m.sel >= 0 && m.sel < len(m.items) {
		it := m.items[m.sel]
		prevKey, prevID, prevKind = it.key, it.id, it.kind
	}
	var items []item
	if len(m.requests) > 0 {
		items = append(items, item{kind: itemHeader, label: "Requests"})
		for _, r := range m.requests {
			items = append(items, item{kind: itemRequest, id: r.RequestID, label: r.From.Username})
		}
	}
	items = append(items, item{kind: itemHeader, label: "Friends"})
	friends := append([]int64(nil), m.friends...)
	sort.Slice(friends, func(i, j int) bool {
		if m.online[friends[i]] != m.online[friends[j]] {
			return m.online[friends[i]]
		}
		return m.name(friends[i]) < m.name(friends[j])
	})
	for _, f := range friends {
		items = append(items, item{kind: itemFriend, id: f, key: protocol.PrivateConv(m.me.UserID, f), label: m.name(f)})
	}
	items = append(items, item{kind: itemHeader, label: "Groups"})
	for _, g := range m.groups {
		items = append(items, item{kind: itemGroup, id: g.GroupID, key: protocol.GroupConv(g.GroupID), label: g.Name})
	}
	items = append(items, item{kind: itemHeader, label: "Rooms"})
	for _, r := range m.rooms {
		label := r.name
		if label == "" {
			label = "room " + strconv.FormatInt(r.id, 10)
		}
		items = append(items, item{kind: itemRoom, id: r.id, key: roomKey(r.id), label: label})
	}
	m.items = items
	m.sel = -1
	for i, it := range items {
		if it.kind == prevKind && it.id == prevID && it.key == prevKey && it.kind != itemHeader {
			m.sel = i
		}
	}
	if m.sel < 0 {
		m.moveSel(1)
	}
}

// moveSel moves the selection by dir, skipping headers.
func (m *Model) moveSel(dir int) {
	if len(m.items) == 0 {
		return
	}
	i := m.sel
	for range m.items {
		i += dir
		if i < 0 || i >= len(m.items) {
			if m.sel >= 0 && m.sel < len(m.items) && m.items[m.sel].kind != itemHeader {
				return
			}
			i = max(0, min(i, len(m.items)-1))
			dir = -dir
		}
		if m.items[i].kind != itemHeader {
			m.sel = i
			return
		}
	}
}

// name returns the display name of a user.
func (m *Model) name(id int64) string {
	if id == m.me.UserID && m.me.UserID != 0 {
		return "me"
	}
	if p, ok := m.profiles[id]; ok {
		if p.Nickname != "" && p.Nickname != p.Username {
			return p.Nickname + " (" + p.Username + ")"
		}
		return p.Username
	}
	return "user#" + strconv.FormatInt(id, 10)
}

// shortName is the sender label in a conversation.
func (m *Model) shortName(id int64) string {
	if id == m.me.UserID {
		return "me"
	}
	if p, ok := m.profiles[id]; ok {
		if p.Nickname != "" {
			return p.Nickname
		}
		return p.Username
	}
	return "user#" + strconv.FormatInt(id, 10)
}

func (m *Model) group(id int64) (protocol.Group, bool) {
	for _, g := range m.groups {
		if g.GroupID == id {
			return g, true
		}
	}
	return protocol.Group{}, false
}

func (m *Model) activeRoom() int64 {
	if len(m.active) > 2 && m.active[:2] == "r:" {
		id, _ := strconv.ParseInt(m.active[2:], 10, 64)
		return id
	}
	return 0
}
