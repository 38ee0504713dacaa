package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/cmd/chat/internal/config"
	"github.com/chatd/chatd/protocol"
)

// Messages produced by commands and client callbacks.
type (
	discoveredMsg []protocol.DiscoverReply
	loggedInMsg   struct {
		c      *client.Client
		sess   *session
		server string
		resp   *protocol.LoginResp
	}
	loginFailedMsg struct {
		c    *client.Client
		sess *session
		err  error
	}
	pushMsg  struct{ client.Push }
	stateMsg struct {
		state client.State
		err   error
	}
	sentMsg struct {
		conv, cmid string
		resp       *protocol.MsgSendResp
		err        error
	}
	historyMsg struct {
		conv  string
		after int64
		msgs  []protocol.Message
		err   error
	}
	noticeMsg struct {
		text string
		err  bool
	}
	friendsMsg  []protocol.Friend
	groupsMsg   []protocol.Group
	profileMsg  protocol.Profile
	progressMsg struct {
		id          int
		done, total int64
	}
	transferDoneMsg struct {
		id    int
		label string
		err   error
		// file is set after a successful upload, so the UI can name
		// the file in the conversation.
		file *protocol.FileOfferedPush
		// conv is the conversation a file was sent to.
		conv string
		// saved is where a download was saved.
		saved string
	}
	roomJoinedMsg struct {
		id      int64
		name    string
		members []protocol.Profile
		count   int // members in the room (more than listed in a big one)
	}
	roomLeftMsg  int64
	requestGone  int64
	loggedOutMsg struct{}
	groupLeftMsg int64
)

const callTimeout = 15 * time.Second

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// errText shortens errors for the status line.
func errText(err error) string {
	if pe := protocol.AsError(err); pe != nil {
		return pe.Error()
	}
	return err.Error()
}

func notice(format string, args ...any) tea.Msg {
	return noticeMsg{text: fmt.Sprintf(format, args...)}
}

func failure(what string, err error) tea.Msg {
	return noticeMsg{text: what + ": " + errText(err), err: true}
}

// always is a command that only delivers msg, for batches that mix
// messages with follow-up commands.
func always(msg tea.Msg) tea.Cmd {
	return func() tea.Msg { return msg }
}

// request runs f on the command's goroutine with the usual call timeout.
func request(f func(ctx context.Context) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := ctxTimeout()
		defer cancel()
		return f(ctx)
	}
}

// call is the common command: one client call whose error becomes a
// status-line failure named op, and whose result done turns into the
// command's message.
func call[T any](op string, do func(context.Context) (T, error), done func(T) tea.Msg) tea.Cmd {
	return request(func(ctx context.Context) tea.Msg {
		v, err := do(ctx)
		if err != nil {
			return failure(op, err)
		}
		return done(v)
	})
}

// exec is call for client calls that return only an error; done may be
// nil when success needs no message.
func exec(op string, do func(context.Context) error, done func() tea.Msg) tea.Cmd {
	return request(func(ctx context.Context) tea.Msg {
		if err := do(ctx); err != nil {
			return failure(op, err)
		}
		if done == nil {
			return nil
		}
		return done()
	})
}

// connectCmd dials, optionally registers, and logs in with a password or
// a remembered token.
func (m *Model) connectCmd(server, user, password, token string, register bool) tea.Cmd {
	opts := m.opts.ClientOptions
	opts.Reconnect = true
	if opts.Device == "" {
		opts.Device = m.opts.Device
	}
	// Each attempt has its own queue: a failed attempt's client reports
	// its closing into a queue nobody reads.
	sess := newSession()
	opts.OnPush = func(p client.Push) { sess.post(pushMsg{p}) }
	opts.OnState = func(s client.State, err error) { sess.post(stateMsg{s, err}) }
	tokens := m.opts.Tokens
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, server, opts)
		if err != nil {
			return loginFailedMsg{sess: sess, err: err}
		}
		if register {
			if _, err := c.Register(ctx, user, password, ""); err != nil {
				return loginFailedMsg{c: c, sess: sess, err: fmt.Errorf("register: %s", errText(err))}
			}
		}
		var resp *protocol.LoginResp
		if token != "" {
			resp, err = c.LoginToken(ctx, user, token)
		} else {
			resp, err = c.Login(ctx, user, password)
		}
		if err != nil {
			if token != "" && protocol.CodeOf(err) == protocol.CodeBadCredentials && tokens != nil {
				_ = tokens.Forget(server)
			}
			return loginFailedMsg{c: c, sess: sess, err: fmt.Errorf("login: %s", errText(err))}
		}
		if tokens != nil {
			// Failing to remember the token is not fatal: the next start
			// just asks for the password again.
			_ = tokens.Put(server, config.Session{Username: resp.Profile.Username, Token: resp.Token})
		}
		return loggedInMsg{c: c, sess: sess, server: server, resp: resp}
	}
}

func (m *Model) sendCmd(cv *conv, req protocol.MsgSendReq) tea.Cmd {
	c := m.c
	cmid := req.ClientMsgID
	id, _ := protocol.ParseConv(cv.key)
	if id.IsGroup() {
		req.ToGroup = id.GroupID()
	} else {
		req.ToUser = id.Peer(m.me.UserID)
	}
	key := cv.key
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r, err := c.SendMsg(ctx, req)
		return sentMsg{conv: key, cmid: cmid, resp: r, err: err}
	}
}

func (m *Model) roomSayCmd(roomID int64, text string) tea.Cmd {
	c := m.c
	return exec("room", func(ctx context.Context) error { return c.RoomSay(ctx, roomID, text) }, nil)
}

// historyCmd loads messages of conv after seq after (limit n).
func (m *Model) historyCmd(conv string, after int64, n int) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg { return syncPage(ctx, c, conv, after, n) })
}

// syncPage loads one page of conv's history as a historyMsg, which also
// carries a failure (the view marks the page as not loaded).
func syncPage(ctx context.Context, c *client.Client, conv string, after int64, n int) tea.Msg {
	r, err := c.Sync(ctx, conv, after, n)
	if err != nil {
		return historyMsg{conv: conv, after: after, err: err}
	}
	return historyMsg{conv: conv, after: after, msgs: r.Messages}
}

// latestHistoryCmd loads the last page of a conversation whose last seq
// this UI does not know yet (a group joined during the session): it asks
// conv.list for it first, so the page is the newest, not the oldest.
func (m *Model) latestHistoryCmd(conv string) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		var last int64
		if convs, err := c.Conversations(ctx); err == nil {
			for _, ci := range convs {
				if ci.Conv == conv {
					last = ci.LastSeq
				}
			}
		}
		return syncPage(ctx, c, conv, max(0, last-historyPage), historyPage)
	})
}

// unfriendCmd ends a friendship.
func (m *Model) unfriendCmd(userID int64) tea.Cmd {
	c, name, refresh := m.c, m.name(userID), m.refreshFriendsCmd()
	return exec("remove", func(ctx context.Context) error { return c.FriendRemove(ctx, userID) }, func() tea.Msg {
		return tea.BatchMsg{always(notice("%s is no longer a friend", name)), refresh}
	})
}

// whoisCmd shows a user's profile in the status area.
func (m *Model) whoisCmd(userID int64) tea.Cmd {
	c := m.c
	profile := func(ctx context.Context) (*protocol.ProfileGetResp, error) { return c.Profile(ctx, userID) }
	return call("profile", profile, func(p *protocol.ProfileGetResp) tea.Msg {
		avatar := "no avatar"
		if p.Profile.AvatarSha256 != "" {
			avatar = fmt.Sprintf("avatar %s…", p.Profile.AvatarSha256[:min(12, len(p.Profile.AvatarSha256))])
		}
		sig := p.Profile.Signature
		if sig == "" {
			sig = "(no signature)"
		}
		return tea.BatchMsg{
			always(profileMsg(p.Profile)),
			always(notice("%s (%s) #%d · %s · %s", p.Profile.Nickname, p.Profile.Username, p.Profile.UserID, sig, avatar)),
		}
	})
}

// membersCmd shows a group's members in the status area.
func (m *Model) membersCmd(g protocol.Group) tea.Cmd {
	c := m.c
	list := func(ctx context.Context) ([]protocol.GroupMember, error) { return c.GroupMembers(ctx, g.GroupID) }
	return call("members", list, func(members []protocol.GroupMember) tea.Msg {
		names := make([]string, 0, len(members))
		for _, f := range members {
			n := f.Profile.Username
			if f.Role != "" && f.Role != protocol.RoleMember {
				n += " (" + f.Role + ")"
			} else if f.Role == "" && f.Profile.UserID == g.Owner {
				n += " (owner)" // a 1.0 server sends no roles
			}
			if f.Online {
				n = "●" + n
			}
			names = append(names, n)
		}
		return noticeMsg{text: fmt.Sprintf("%s: %d members: %s", g.Name, len(members), strings.Join(names, ", "))}
	})
}

// kickCmd removes a member from a group (owner only).
func (m *Model) kickCmd(g protocol.Group, name string) tea.Cmd {
	c, refresh := m.c, m.refreshGroupsCmd()
	return request(func(ctx context.Context) tea.Msg {
		members, err := c.GroupMembers(ctx, g.GroupID)
		if err != nil {
			return failure("kick", err)
		}
		for _, f := range members {
			if strings.EqualFold(f.Profile.Username, name) {
				if err := c.GroupKick(ctx, g.GroupID, f.Profile.UserID); err != nil {
					return failure("kick", err)
				}
				return tea.BatchMsg{always(notice("removed %s from %s", f.Profile.Username, g.Name)), refresh}
			}
		}
		return noticeMsg{text: name + " is not in " + g.Name, err: true}
	})
}

func (m *Model) ackCmd(conv string, seq int64) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		_ = c.Ack(ctx, conv, seq) // a lost ack only means a repeat push, filtered by the client
		return nil
	})
}

func (m *Model) readCmd(conv string, seq int64) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		_ = c.Read(ctx, conv, seq)
		return nil
	})
}

func (m *Model) refreshFriendsCmd() tea.Cmd {
	return call("friends", m.c.Friends, func(f []protocol.Friend) tea.Msg { return friendsMsg(f) })
}

func (m *Model) refreshGroupsCmd() tea.Cmd {
	return call("groups", m.c.GroupList, func(g []protocol.Group) tea.Msg { return groupsMsg(g) })
}

func (m *Model) profileCmd(id int64) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		p, err := c.Profile(ctx, id)
		if err != nil {
			return nil // the list keeps showing what it knows
		}
		return profileMsg(p.Profile)
	})
}

func (m *Model) respondCmd(req protocol.FriendRequestedPush, accept bool) tea.Cmd {
	c, refresh := m.c, m.refreshFriendsCmd()
	respond := func(ctx context.Context) error { return c.FriendRespond(ctx, req.RequestID, accept) }
	return exec("friend request", respond, func() tea.Msg {
		gone := always(requestGone(req.RequestID))
		if accept {
			return tea.BatchMsg{gone, always(notice("%s is now your friend", req.From.Username)), refresh}
		}
		return tea.BatchMsg{gone, always(notice("rejected %s", req.From.Username))}
	})
}

// addFriendCmd finds a user by exact username (or the only prefix match)
// and sends a friend request.
func (m *Model) addFriendCmd(name, note string) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		users, err := c.SearchUsers(ctx, name)
		if err != nil {
			return failure("search", err)
		}
		var target *protocol.Profile
		for i := range users {
			if strings.EqualFold(users[i].Username, name) {
				target = &users[i]
			}
		}
		if target == nil && len(users) == 1 {
			target = &users[0]
		}
		if target == nil {
			if len(users) == 0 {
				return noticeMsg{text: "no user matches " + name, err: true}
			}
			names := make([]string, 0, len(users))
			for _, u := range users {
				names = append(names, u.Username)
			}
			return noticeMsg{text: "which one? " + strings.Join(names, ", "), err: true}
		}
		if _, err := c.FriendRequest(ctx, target.UserID, note); err != nil {
			return failure("friend request", err)
		}
		return notice("friend request sent to %s", target.Username)
	})
}

func (m *Model) groupCreateCmd(name string, members []int64) tea.Cmd {
	c, refresh := m.c, m.refreshGroupsCmd()
	create := func(ctx context.Context) (*protocol.Group, error) { return c.GroupCreate(ctx, name, members) }
	return call("group", create, func(g *protocol.Group) tea.Msg {
		return tea.BatchMsg{always(notice("created group %s (#%d)", g.Name, g.GroupID)), refresh}
	})
}

func (m *Model) groupJoinCmd(id int64) tea.Cmd {
	c, refresh := m.c, m.refreshGroupsCmd()
	join := func(ctx context.Context) (*protocol.Group, error) { return c.GroupJoin(ctx, id) }
	return call("join", join, func(g *protocol.Group) tea.Msg {
		return tea.BatchMsg{always(notice("joined group %s", g.Name)), refresh}
	})
}

func (m *Model) groupLeaveCmd(g protocol.Group) tea.Cmd {
	c := m.c
	mine := g.Owner == m.me.UserID
	leave := func(ctx context.Context) error {
		if mine {
			return c.GroupDismiss(ctx, g.GroupID)
		}
		return c.GroupLeave(ctx, g.GroupID)
	}
	return exec("leave", leave, func() tea.Msg { return groupLeftMsg(g.GroupID) })
}

func (m *Model) updateProfileCmd(req protocol.ProfileUpdateReq, what string) tea.Cmd {
	c := m.c
	update := func(ctx context.Context) (*protocol.Profile, error) { return c.UpdateProfile(ctx, req) }
	return call(what, update, func(p *protocol.Profile) tea.Msg {
		return tea.BatchMsg{always(profileMsg(*p)), always(notice("%s updated", what))}
	})
}

// sendFileCmd uploads a file to the active conversation, reporting
// progress through the event queue.
func (m *Model) sendFileCmd(id int, conv string, to client.Target, path string) tea.Cmd {
	c := m.c
	events := m.sess.events
	label := "sending " + filepath.Base(path)
	me := m.me
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		var size int64
		fileID, err := c.SendFile(ctx, to, path, progressFunc(id, events, &size))
		done := transferDoneMsg{id: id, label: label, err: err, conv: conv}
		if err == nil {
			done.file = &protocol.FileOfferedPush{FileID: fileID, From: me, Name: filepath.Base(path), Size: size}
		}
		return done
	}
}

// progressFunc reports progress at most every 1% so that a fast transfer
// cannot flood the event queue; size, when set, receives the total.
func progressFunc(id int, events chan tea.Msg, size *int64) client.Progress {
	var last int64 = -1
	return func(done, total int64) {
		if size != nil {
			*size = total
		}
		step := max(total/100, 1)
		if done/step == last && done != total {
			return
		}
		last = done / step
		select {
		case events <- progressMsg{id, done, total}:
		default: // the next update will carry the state
		}
	}
}

func (m *Model) roomCmd(args []string) tea.Cmd {
	c := m.c
	usage := always(noticeMsg{text: "usage: /room new [NAME] | join ID | leave", err: true})
	if len(args) == 0 {
		return usage
	}
	switch args[0] {
	case "new", "create":
		name := strings.Join(args[1:], " ")
		me := m.me
		create := func(ctx context.Context) (int64, error) { return c.RoomCreate(ctx, name) }
		return call("room", create, func(id int64) tea.Msg {
			return roomJoinedMsg{id: id, name: name, members: []protocol.Profile{me}, count: 1}
		})
	case "join":
		if len(args) < 2 {
			break
		}
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			break
		}
		join := func(ctx context.Context) (*protocol.RoomJoinResp, error) { return c.RoomJoinInfo(ctx, id) }
		return call("room", join, func(r *protocol.RoomJoinResp) tea.Msg {
			joined := roomJoinedMsg{id: id, members: r.Members, count: len(r.Members)}
			if r.Room != nil { // a 1.0 server does not name the room
				joined.name, joined.count = r.Room.Name, r.Room.MemberCount
			}
			return joined
		})
	case "leave":
		id := m.activeRoom()
		if len(args) >= 2 {
			id, _ = strconv.ParseInt(args[1], 10, 64)
		}
		if id == 0 {
			return always(noticeMsg{text: "not in a room", err: true})
		}
		leave := func(ctx context.Context) error { return c.RoomLeave(ctx, id) }
		return exec("room", leave, func() tea.Msg { return roomLeftMsg(id) })
	}
	return usage
}

func (m *Model) logoutCmd() tea.Cmd {
	c := m.c
	tokens := m.opts.Tokens
	server := m.server
	return request(func(ctx context.Context) tea.Msg {
		err := c.Logout(ctx)
		_ = c.Close()
		if tokens != nil {
			_ = tokens.Forget(server)
		}
		if err != nil && !errors.Is(err, client.ErrClosed) {
			return tea.BatchMsg{always(loggedOutMsg{}), always(failure("logout", err))}
		}
		return loggedOutMsg{}
	})
}
