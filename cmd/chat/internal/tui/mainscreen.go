package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// historyPage is how many messages a conversation loads at a time.
const historyPage = 50

// onLoggedIn switches to the main screen with the state of the login reply.
func (m *Model) onLoggedIn(msg loggedInMsg) tea.Cmd {
	m.c, m.server = msg.c, msg.server
	if msg.sess != nil {
		m.sess.end()
		m.sess = msg.sess
	}
	m.connected = true
	m.register = false
	r := msg.resp
	m.screen = screenMain
	m.busy, m.loginErr = "", ""
	m.fields[fieldPassword].SetValue("")
	m.fields[fieldConfirm].SetValue("")
	m.me = r.Profile
	m.profiles[m.me.UserID] = m.me
	m.connText = "connected"
	m.friends = m.friends[:0]
	for _, f := range r.Friends {
		m.profiles[f.Profile.UserID] = f.Profile
		m.online[f.Profile.UserID] = f.Online
		m.friends = append(m.friends, f.Profile.UserID)
	}
	m.groups = append(m.groups[:0], r.Groups...)
	var cmds []tea.Cmd
	for _, ci := range r.Convs {
		cv := m.conv(ci.Conv)
		cv.lastSeq = max(cv.lastSeq, ci.LastSeq)
		cv.readSeq = max(cv.readSeq, ci.ReadSeq)
		cv.mentionSeq = max(cv.mentionSeq, ci.MentionSeq)
		if ci.Last != nil && ci.Last.Seq == ci.LastSeq {
			// The last message is our own (sent from another device, or
			// by a client that does not mark its sends read): whoever
			// wrote it had read the conversation up to there.
			if ci.Last.From == m.me.UserID && cv.readSeq < ci.LastSeq {
				cv.readSeq = ci.LastSeq
				if m.c != nil {
					cmds = append(cmds, m.readCmd(cv.key, ci.LastSeq))
				}
			}
			m.noteCursors(cv, *ci.Last)
		}
	}
	m.inputFocus = false
	m.input.Blur()
	m.rebuildItems()
	m.layout()
	return tea.Batch(append(cmds, m.waitEvent())...)
}

// noteCursors applies what a message tells of the read cursors: one's own
// message means one had read the conversation up to it, and in a private
// conversation the friend's message means the friend had read ours before
// it (the server reports the friend's read cursor only live, so history
// loaded later would otherwise show every own message as merely stored).
func (m *Model) noteCursors(cv *conv, msg protocol.Message) {
	if msg.Seq <= 0 {
		return
	}
	if msg.From == m.me.UserID {
		cv.readSeq = max(cv.readSeq, msg.Seq)
		return
	}
	if strings.HasPrefix(cv.key, "p:") {
		cv.peerRead = max(cv.peerRead, msg.Seq)
	}
}

// updateMain handles the main screen.
func (m *Model) updateMain(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pushMsg:
		return tea.Batch(m.handlePush(msg.Push), m.waitEvent())
	case stateMsg:
		m.connText = msg.state.String()
		m.connected = msg.state == client.StateConnected
		if msg.state != client.StateConnected && len(m.rooms) > 0 {
			// Rooms are live only: membership ends with the connection.
			m.rooms = nil
			if m.activeRoom() != 0 {
				m.active = ""
			}
			m.rebuildItems()
			m.setNotice("connection lost: left all rooms", true)
		}
		if msg.state == client.StateDisconnected && msg.err != nil {
			m.setNotice("disconnected: "+errText(msg.err), true)
		}
		if msg.state == client.StateConnected && m.c != nil {
			// After a reconnect the lists may have changed.
			return tea.Batch(m.waitEvent(), m.refreshFriendsCmd(), m.refreshGroupsCmd())
		}
		return m.waitEvent()
	case progressMsg:
		// Progress travels on the event queue and may arrive after its
		// transfer ended: only the current transfer's counts.
		if m.xfer != nil && m.xfer.id == msg.id {
			m.xfer.done, m.xfer.total = msg.done, msg.total
		}
		return m.waitEvent()
	case transferDoneMsg:
		if m.xfer != nil && m.xfer.id == msg.id {
			m.xfer = nil
		}
		if msg.file != nil {
			m.files[msg.file.FileID] = *msg.file
		}
		if msg.err != nil {
			m.setNotice(msg.label+" failed: "+errText(msg.err), true)
			return nil
		}
		if msg.saved != "" {
			m.setNotice(msg.label+": saved to "+msg.saved, false)
			return nil
		}
		m.setNotice(msg.label+": done", false)
		if msg.conv != "" && m.c != nil {
			// The server stores the file message itself and does not
			// push it to the sender: fetch it to show it.
			return m.historyCmd(msg.conv, m.conv(msg.conv).lastSeq, 100)
		}
		return nil
	case sentMsg:
		return m.onSent(msg)
	case recalledMsg:
		return m.onRecalled(msg)
	case historyMsg:
		return m.onHistory(msg)
	case noticeMsg:
		m.setNotice(msg.text, msg.err)
		return nil
	case fileInfoMsg:
		m.onFileInfo(msg)
		return nil
	case membersMsg:
		m.onMembers(msg)
		return nil
	case searchMsg:
		return m.onSearch(msg)
	case sessionsMsg:
		m.onSessions(msg)
		return nil
	case passwordChangedMsg:
		m.closePanel()
		m.setNotice("password changed; every other device was signed out", false)
		return nil
	case accountDeletedMsg:
		m.resetSession()
		m.loginErr = "the account was deleted"
		if tokens, server := m.opts.Tokens, m.server; tokens != nil {
			return func() tea.Msg { _ = tokens.Forget(server); return nil }
		}
		return nil
	case jumpedMsg:
		return m.onJumped(msg)
	case typingExpiredMsg:
		m.stopTyping(msg.conv, msg.user, true)
		return nil
	case friendsMsg:
		m.friends = m.friends[:0]
		for _, f := range msg {
			m.profiles[f.Profile.UserID] = f.Profile
			m.online[f.Profile.UserID] = f.Online
			m.friends = append(m.friends, f.Profile.UserID)
		}
		m.rebuildItems()
		return nil
	case groupsMsg:
		m.groups = append(m.groups[:0], msg...)
		if id, err := protocol.ParseConv(m.active); err == nil && id.IsGroup() {
			if _, still := m.group(id.GroupID()); !still {
				m.active = "" // kicked out, or the group was dismissed
				m.setNotice("you are no longer in that group", false)
			}
		}
		m.rebuildItems()
		return nil
	case profileMsg:
		m.profiles[msg.UserID] = protocol.Profile(msg)
		if msg.UserID == m.me.UserID {
			m.me = protocol.Profile(msg)
		}
		m.rebuildItems()
		return nil
	case requestGone:
		m.removeRequest(int64(msg))
		return nil
	case roomJoinedMsg:
		for _, p := range msg.members {
			m.profiles[p.UserID] = p
		}
		m.rooms = append(m.rooms, room{id: msg.id, name: msg.name})
		m.rebuildItems()
		m.open(roomKey(msg.id))
		label := fmt.Sprintf("room %d", msg.id)
		if msg.name != "" {
			label = fmt.Sprintf("room %s (%d)", msg.name, msg.id)
		}
		m.setNotice(fmt.Sprintf("in %s (%d members)", label, max(msg.count, len(msg.members))), false)
		return nil
	case roomLeftMsg:
		m.rooms = slices.DeleteFunc(m.rooms, func(r room) bool { return r.id == int64(msg) })
		if m.active == roomKey(int64(msg)) {
			m.active = ""
		}
		m.rebuildItems()
		return nil
	case groupLeftMsg:
		m.groups = slices.DeleteFunc(m.groups, func(g protocol.Group) bool { return g.GroupID == int64(msg) })
		if m.active == protocol.GroupConv(int64(msg)) {
			m.active = ""
		}
		m.rebuildItems()
		return nil
	case loggedOutMsg:
		m.resetSession()
		return nil
	case tea.PasteMsg:
		if !m.inputFocus {
			m.focusInput(true)
		}
	case tea.KeyPressMsg:
		if cmd, handled := m.handleKey(msg); handled {
			return cmd
		}
	}
	if m.inputFocus {
		var cmd tea.Cmd
		before := m.input.Value()
		m.input, cmd = m.input.Update(msg)
		return tea.Batch(cmd, m.noteTyping(before))
	}
	return nil
}

// handleKey handles the keys of the main screen that are not typing.
func (m *Model) handleKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if m.panel != nil {
		return m.panelKey(k), true
	}
	if m.pick != 0 {
		return m.pickKey(k), true
	}
	if m.inputFocus {
		if cmd, ok := m.inputKey(k); ok {
			return cmd, true
		}
	}
	switch k.String() {
	case "tab":
		m.focusInput(!m.inputFocus)
		return nil, true
	case "esc":
		if m.replyTo != 0 {
			m.replyTo = 0 // first esc drops the quote, the next leaves the input
			return nil, true
		}
		m.focusInput(false)
		return nil, true
	case "pgup":
		return m.scroll(m.paneHeight() - 2), true
	case "pgdown":
		return m.scroll(-(m.paneHeight() - 2)), true
	}
	if m.inputFocus {
		switch k.String() {
		case "enter":
			return m.submitInput(), true
		case "ctrl+up", "alt+up":
			m.moveSel(-1)
			return m.openSelected(), true
		case "ctrl+down", "alt+down":
			m.moveSel(1)
			return m.openSelected(), true
		}
		return nil, false
	}
	switch k.String() {
	case "up", "k":
		m.moveSel(-1)
	case "down", "j":
		m.moveSel(1)
	case "enter", "right", "l":
		if it, ok := m.selected(); ok && it.kind == itemRequest {
			m.setNotice("friend request from "+it.label+" — a: accept, x: reject", false)
			return nil, true
		}
		cmd := m.openSelected()
		m.focusInput(true)
		return cmd, true
	case "a", "y":
		if it, ok := m.selected(); ok && it.kind == itemRequest {
			return m.answerRequest(it.id, true), true
		}
	case "x", "n":
		if it, ok := m.selected(); ok && it.kind == itemRequest {
			return m.answerRequest(it.id, false), true
		}
	case "/", "i":
		m.focusInput(true)
		if k.String() == "/" {
			m.input.SetValue("/")
		}
	case "q":
		return m.quit(), true
	default:
		return nil, false
	}
	return nil, true
}

func (m *Model) focusInput(on bool) {
	m.inputFocus = on
	if on {
		m.input.Focus()
	} else {
		m.input.Blur()
	}
}

func (m *Model) selected() (item, bool) {
	if m.sel < 0 || m.sel >= len(m.items) {
		return item{}, false
	}
	return m.items[m.sel], true
}

// openSelected shows the selected friend's, group's or room's
// conversation.
func (m *Model) openSelected() tea.Cmd {
	it, ok := m.selected()
	if !ok || it.key == "" {
		return nil
	}
	return m.open(it.key)
}

// open makes key the active conversation, loading its latest history the
// first time and marking it read.
func (m *Model) open(key string) tea.Cmd {
	if key != m.active {
		m.pick, m.replyTo = 0, 0
	}
	m.active = key
	for i, it := range m.items {
		if it.key == key {
			m.sel = i // the list follows conversations opened by command
		}
	}
	cv := m.conv(key)
	cv.scroll = 0
	var cmds []tea.Cmd
	if id, err := protocol.ParseConv(key); err == nil && id.IsGroup() {
		cmds = append(cmds, m.loadMembersCmd(id.GroupID()))
	}
	if !cv.loaded && !strings.HasPrefix(key, "r:") && m.c != nil {
		cv.loaded, cv.loading = true, true
		if cv.lastSeq == 0 {
			cmds = append(cmds, m.latestHistoryCmd(key))
		} else {
			after := max(0, cv.lastSeq-historyPage)
			cmds = append(cmds, m.historyCmd(key, after, historyPage))
		}
	}
	cmds = append(cmds, m.markRead(cv))
	return tea.Batch(cmds...)
}

// markRead clears the unread count and tells the server.
func (m *Model) markRead(cv *conv) tea.Cmd {
	cv.unread = 0
	if cv.lastSeq > cv.readSeq && !strings.HasPrefix(cv.key, "r:") {
		cv.readSeq = cv.lastSeq
		if m.c != nil {
			return m.readCmd(cv.key, cv.lastSeq)
		}
	}
	return nil
}

// scroll moves the conversation view; reaching the top loads older
// messages.
func (m *Model) scroll(n int) tea.Cmd {
	cv := m.convs[m.active]
	if cv == nil {
		return nil
	}
	total := len(m.renderConv(cv, m.paneWidth()))
	maxScroll := max(0, total-m.paneHeight()+1)
	cv.scroll = max(0, min(cv.scroll+n, maxScroll))
	if n > 0 && cv.scroll == maxScroll && cv.hasOlder() && !cv.loading && m.c != nil {
		cv.loading = true
		after := max(0, cv.oldest-1-historyPage)
		return m.historyCmd(cv.key, after, int(cv.oldest-1-after))
	}
	return nil
}

func (m *Model) onHistory(msg historyMsg) tea.Cmd {
	cv := m.conv(msg.conv)
	cv.loading = false
	if msg.err != nil {
		m.setNotice("history: "+errText(msg.err), true)
		return nil
	}
	older := cv.oldest != 0 && msg.after < cv.oldest
	before := len(m.renderConv(cv, m.paneWidth()))
	for _, mm := range msg.msgs {
		cv.add(mm)
		m.noteCursors(cv, mm)
	}
	learn := m.learnFiles(msg.msgs)
	if older && cv.scroll > 0 {
		// Keep the lines the user is looking at in place.
		cv.scroll += len(m.renderConv(cv, m.paneWidth())) - before
	}
	if cv.oldest == 0 || msg.after+1 < cv.oldest {
		cv.oldest = msg.after + 1
	}
	if msg.conv == m.active {
		return tea.Batch(learn, m.markRead(cv))
	}
	return learn
}

// handlePush applies one server push to the state.
func (m *Model) handlePush(p client.Push) tea.Cmd {
	switch b := p.Body.(type) {
	case *protocol.MsgPush:
		msg := b.Message
		cv := m.conv(msg.Conv)
		isNew := cv.add(msg)
		m.stopTyping(msg.Conv, msg.From, false)
		if isNew && msg.Conv != m.active {
			l := line{from: msg.From, mentions: msg.Mentions, mentionAll: msg.MentionAll, typ: msg.Type}
			if m.mentionsMe(&l) {
				cv.mentionSeq = max(cv.mentionSeq, msg.Seq)
			}
		}
		var cmds []tea.Cmd
		if _, known := m.profiles[msg.From]; !known && m.c != nil {
			m.profiles[msg.From] = protocol.Profile{UserID: msg.From, Username: "user#" + strconv.FormatInt(msg.From, 10)}
			cmds = append(cmds, m.profileCmd(msg.From))
		}
		// Sent from another of our devices: we have seen the
		// conversation up to here; from the friend: they read ours.
		m.noteCursors(cv, msg)
		cmds = append(cmds, m.learnFiles([]protocol.Message{msg}))
		if isNew && msg.From != m.me.UserID {
			if msg.Conv == m.active {
				cmds = append(cmds, m.markRead(cv))
			}
			if msg.Type == "file" {
				m.setNotice(fmt.Sprintf("%s sent file #%s — /get %s", m.shortName(msg.From), msg.Body, msg.Body), false)
			}
		}
		// The message is in the UI's memory and on screen: take it.
		if m.c != nil {
			cmds = append(cmds, m.ackCmd(msg.Conv, msg.Seq))
		}
		return tea.Batch(cmds...)
	case *protocol.PresencePush:
		m.online[b.UserID] = b.Online
		m.rebuildItems()
	case *protocol.ProfileChangedPush:
		m.profiles[b.Profile.UserID] = b.Profile
		m.rebuildItems()
	case *protocol.FriendRequestedPush:
		m.profiles[b.From.UserID] = b.From
		for _, r := range m.requests {
			if r.RequestID == b.RequestID {
				return nil
			}
		}
		m.requests = append(m.requests, *b)
		m.rebuildItems()
		note := ""
		if b.Note != "" {
			note = ": " + b.Note
		}
		m.setNotice(fmt.Sprintf("friend request from %s%s — select it, a: accept, x: reject", b.From.Username, note), false)
	case *protocol.FriendRespondedPush:
		m.profiles[b.By.UserID] = b.By
		if b.Accepted {
			m.setNotice(b.By.Username+" accepted your friend request", false)
			if m.c != nil {
				return m.refreshFriendsCmd()
			}
		} else {
			m.setNotice(b.By.Username+" declined your friend request", false)
		}
	case *protocol.FriendRemovedPush:
		for i, f := range m.friends {
			if f == b.UserID {
				m.friends = append(m.friends[:i], m.friends[i+1:]...)
				break
			}
		}
		m.rebuildItems()
	case *protocol.TypingPush:
		return m.onTyping(b)
	case *protocol.ReadReceiptPush:
		cv := m.conv(b.Conv)
		cv.peerRead = max(cv.peerRead, b.Seq)
	case *protocol.GroupEventPush:
		return m.onGroupEvent(b)
	case *protocol.FileOfferedPush:
		m.files[b.FileID] = *b
		m.setNotice(fmt.Sprintf("%s offers %s (%s) — /get %d", b.From.Username, b.Name, humanBytes(b.Size), b.FileID), false)
	case *protocol.FileReadyPush:
		name := "#" + strconv.FormatInt(b.FileID, 10)
		if f, ok := m.files[b.FileID]; ok {
			name = f.Name
		}
		m.setNotice("file "+name+" delivered", false)
	case *protocol.RoomEventPush:
		cv := m.conv(roomKey(b.RoomID))
		cv.lines = append(cv.lines, line{from: b.UserID, typ: "event", body: b.Kind, seq: -1})
		if _, known := m.profiles[b.UserID]; !known && m.c != nil {
			return m.profileCmd(b.UserID)
		}
	case *protocol.RoomSaidPush:
		cv := m.conv(roomKey(b.RoomID))
		cv.lines = append(cv.lines, line{from: b.From, ts: b.Ts, typ: "text", body: b.Body, seq: -1})
		if roomKey(b.RoomID) != m.active {
			cv.unread++
		}
	case *protocol.KickedPush:
		return m.onKicked(b)
	}
	return nil
}

// onKicked returns to the login screen and says why the server ended the
// session. A revoked token (revoked device, changed password, deleted
// account) is forgotten, so the next start asks for the password.
func (m *Model) onKicked(k *protocol.KickedPush) tea.Cmd {
	server := m.server
	m.resetSession()
	var why string
	forget := true
	switch k.Reason {
	case protocol.KickReasonPasswordChanged:
		why = "the password was changed on another device; log in with the new one"
	case protocol.KickReasonRevoked:
		why = "this device was signed out from another device"
	case protocol.KickReasonAccountDeleted:
		why = "the account was deleted"
	default:
		why = "this account logged in elsewhere (" + k.Addr + ")"
		forget = false
	}
	m.loginErr = "logged out: " + why
	if !forget || m.opts.Tokens == nil {
		return nil
	}
	tokens := m.opts.Tokens
	return func() tea.Msg { _ = tokens.Forget(server); return nil }
}

// onSent applies a send's reply. Having written into the conversation,
// the user has read it up to the new message: the read cursor moves there
// too, so that the next login does not count our own messages as unread.
func (m *Model) onSent(msg sentMsg) tea.Cmd {
	cv := m.conv(msg.conv)
	for i := range cv.lines {
		l := &cv.lines[i]
		if l.cmid != msg.cmid || !l.pending {
			continue
		}
		l.pending = false
		if msg.err != nil {
			l.failed = true
			m.setNotice("not sent: "+errText(msg.err), true)
			return nil
		}
		l.seq, l.ts = msg.resp.Seq, msg.resp.Ts
		cv.lastSeq = max(cv.lastSeq, msg.resp.Seq)
		// Drop a copy that history may have brought in meanwhile.
		for j := range cv.lines {
			if j != i && cv.lines[j].seq == l.seq {
				cv.lines = append(cv.lines[:j], cv.lines[j+1:]...)
				break
			}
		}
		cv.sortLines()
		if cv.readSeq < msg.resp.Seq {
			cv.readSeq = msg.resp.Seq
			if m.c != nil {
				return m.readCmd(cv.key, msg.resp.Seq)
			}
		}
		return nil
	}
	return nil
}

func (m *Model) answerRequest(id int64, accept bool) tea.Cmd {
	for _, r := range m.requests {
		if r.RequestID == id && m.c != nil {
			return m.respondCmd(r, accept)
		}
	}
	return nil
}

func (m *Model) removeRequest(id int64) {
	for i, r := range m.requests {
		if r.RequestID == id {
			m.requests = append(m.requests[:i], m.requests[i+1:]...)
			break
		}
	}
	m.rebuildItems()
}

func (m *Model) setNotice(text string, isErr bool) {
	m.notice, m.noticeErr = text, isErr
}

// resetSession returns to the login screen.
func (m *Model) resetSession() {
	if m.c != nil {
		c := m.c
		go c.Close() // Close waits for the reader; never block Update
	}
	m.c = nil
	m.screen = screenLogin
	m.friends, m.groups, m.rooms, m.requests = nil, nil, nil, nil
	m.convs = map[string]*conv{}
	m.profiles = map[int64]protocol.Profile{}
	m.online = map[int64]bool{}
	m.items, m.sel, m.active = nil, 0, ""
	m.connText = "offline"
	m.connected = false
	m.notice = ""
	m.sess.end() // release the old client's callbacks; its events are void
	m.sess = newSession()
	// Back to logging in: a kicked or logged-out user has an account.
	m.register = false
	m.focusField(fieldPassword)
}

// submitInput sends the input line as a message, room text or command.
func (m *Model) submitInput() tea.Cmd {
	text := strings.TrimRight(m.input.Value(), "\n ")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	m.input.Reset()
	if strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") {
		return m.runCommand(text)
	}
	text = strings.TrimPrefix(text, "/") // "//x" sends "/x"
	if m.active == "" {
		m.setNotice("pick a friend, group or room first (tab, arrows, enter)", true)
		return nil
	}
	cv := m.conv(m.active)
	cv.scroll = 0
	if id := m.activeRoom(); id != 0 {
		cv.lines = append(cv.lines, line{from: m.me.UserID, ts: time.Now().UnixMilli(), typ: "text", body: text, seq: -1})
		if m.c == nil {
			return nil
		}
		return m.roomSayCmd(id, text)
	}
	req := protocol.MsgSendReq{Body: text, ClientMsgID: client.NewClientMsgID(), ReplyTo: m.replyTo}
	m.replyTo = 0
	if id, _ := protocol.ParseConv(cv.key); id.IsGroup() {
		req.Mentions, req.MentionAll = m.mentionsIn(id.GroupID(), text)
	}
	cv.lines = append(cv.lines, line{from: m.me.UserID, typ: "text", body: text, cmid: req.ClientMsgID, pending: true,
		replyTo: req.ReplyTo, mentions: req.Mentions, mentionAll: req.MentionAll})
	if m.c == nil {
		return nil
	}
	return m.sendCmd(cv, req)
}

const helpText = `/add USER [note] · /accept · /reject · /remove · /whois [USER]
/group NAME [USER...] · /join ID · /leave · /members · /kick USER
/nick NAME · /sig TEXT · /avatar PATH · /send PATH · /get FILEID [DEST]
/room new [NAME]|join ID|leave · /logout · /quit
/recall [SEQ] · /reply · /search TEXT · /devices · /password · /delete-account
groups: /settings · /notice TEXT · /rename NAME · /admin /unadmin /mute [30m] /unmute /transfer USER
tab: list/input (after @: complete a name) · ↑ in empty input: pick a message (r reply, d recall)
pgup/pgdn: scroll · alt+enter: newline`

// runCommand executes a slash command.
func (m *Model) runCommand(text string) tea.Cmd {
	fields := strings.Fields(text)
	cmd, args := fields[0], fields[1:]
	rest := strings.TrimSpace(strings.TrimPrefix(text, cmd))
	switch cmd {
	case "/help", "/?":
		m.setNotice(helpText, false)
	case "/quit", "/exit":
		return m.quit()
	case "/logout":
		return m.logoutCmd()
	case "/add":
		if len(args) == 0 {
			break
		}
		return m.addFriendCmd(args[0], strings.Join(args[1:], " "))
	case "/accept", "/reject":
		it, ok := m.selected()
		if ok && it.kind == itemRequest {
			return m.answerRequest(it.id, cmd == "/accept")
		}
		for _, r := range m.requests {
			if len(args) == 0 || strings.EqualFold(r.From.Username, args[0]) {
				return m.answerRequest(r.RequestID, cmd == "/accept")
			}
		}
		m.setNotice("no such friend request", true)
		return nil
	case "/group":
		if len(args) == 0 {
			break
		}
		var members []int64
		for _, name := range args[1:] {
			found := false
			for _, f := range m.friends {
				if strings.EqualFold(m.profiles[f].Username, name) {
					members = append(members, f)
					found = true
				}
			}
			if !found {
				m.setNotice(name+" is not a friend", true)
				return nil
			}
		}
		return m.groupCreateCmd(args[0], members)
	case "/join":
		if id, err := strconv.ParseInt(strings.TrimPrefix(rest, "#"), 10, 64); err == nil {
			return m.groupJoinCmd(id)
		}
	case "/leave":
		id, _ := protocol.ParseConv(m.active)
		if g, ok := m.group(id.GroupID()); ok {
			return m.groupLeaveCmd(g)
		}
		if r := m.activeRoom(); r != 0 {
			return m.roomCmd([]string{"leave"})
		}
		m.setNotice("open a group or room to leave it", true)
		return nil
	case "/remove", "/whois":
		id, _ := protocol.ParseConv(m.active)
		peer := id.Peer(m.me.UserID)
		if cmd == "/whois" && len(args) > 0 {
			peer = 0
			for uid, p := range m.profiles {
				if strings.EqualFold(p.Username, args[0]) {
					peer = uid
				}
			}
		}
		if peer == 0 {
			m.setNotice("open a friend's conversation (or /whois a known USER)", true)
			return nil
		}
		if cmd == "/remove" {
			if m.active == protocol.PrivateConv(m.me.UserID, peer) {
				m.active = ""
			}
			return m.unfriendCmd(peer)
		}
		return m.whoisCmd(peer)
	case "/members", "/kick":
		id, _ := protocol.ParseConv(m.active)
		g, ok := m.group(id.GroupID())
		if !ok {
			m.setNotice("open a group first", true)
			return nil
		}
		if cmd == "/members" {
			return m.membersCmd(g)
		}
		if len(args) == 0 {
			break
		}
		return m.kickCmd(g, args[0])
	case "/nick":
		if rest == "" {
			break
		}
		return m.updateProfileCmd(protocol.ProfileUpdateReq{Nickname: &rest}, "nickname")
	case "/sig", "/signature":
		return m.updateProfileCmd(protocol.ProfileUpdateReq{Signature: &rest}, "signature")
	case "/avatar":
		if rest == "" {
			break
		}
		return m.avatarCmd(rest)
	case "/send":
		if rest == "" {
			break
		}
		id, err := protocol.ParseConv(m.active)
		if err != nil {
			m.setNotice("open a friend or group conversation first", true)
			return nil
		}
		to := client.Target{Group: id.GroupID(), User: id.Peer(m.me.UserID)}
		x := m.startTransfer("sending " + filepath.Base(rest))
		return m.sendFileCmd(x.id, m.active, to, rest)
	case "/get":
		if len(args) == 0 {
			break
		}
		fileID, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			break
		}
		name := m.files[fileID].Name
		dest := strings.TrimSpace(strings.TrimPrefix(rest, args[0]))
		x := m.startTransfer("downloading " + safeName(name, fileID))
		return m.getFileCmd(x.id, fileID, name, dest)
	case "/room":
		return m.roomCmd(args)
	case "/recall":
		if len(args) == 0 {
			return m.recallLast()
		}
		if seq, ok := parseSeq(args[0]); ok {
			return m.recallCmd(m.active, seq)
		}
	case "/reply":
		if !m.startPick(0) {
			m.setNotice("nothing to reply to here", true)
		}
		return nil
	default:
		if cmd, ok := m.moreCommands(cmd, args, rest); ok {
			return cmd
		}
		m.setNotice("unknown command "+cmd+" (/help)", true)
		return nil
	}
	if m.notice == "" || !strings.HasPrefix(m.notice, "/add") {
		m.setNotice("usage:\n"+helpText, true)
	}
	return nil
}

// startTransfer makes a new transfer the one the status line shows.
func (m *Model) startTransfer(label string) *transfer {
	m.xferSeq++
	m.xfer = &transfer{id: m.xferSeq, label: label}
	return m.xfer
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
