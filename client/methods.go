package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/chatd/chatd/protocol"
)

// Ping asks the server for its clock; it returns the server time in unix
// milliseconds.
func (c *Client) Ping(ctx context.Context) (int64, error) {
	var r protocol.PingResp
	if err := c.call(ctx, protocol.OpPing, &protocol.PingReq{}, &r); err != nil {
		return 0, err
	}
	return r.Ts, nil
}

// Register creates an account and returns its user id. nickname may be
// empty (the server uses the username). It does not log in.
func (c *Client) Register(ctx context.Context, username, password, nickname string) (int64, error) {
	var r protocol.RegisterResp
	err := c.call(ctx, protocol.OpRegister,
		&protocol.RegisterReq{Username: username, Password: password, Nickname: nickname}, &r)
	if err != nil {
		return 0, err
	}
	return r.UserID, nil
}

// Login logs in with a password. On success the client keeps the session
// token for reconnects (see Token).
func (c *Client) Login(ctx context.Context, username, password string) (*protocol.LoginResp, error) {
	return c.login(ctx, &protocol.LoginReq{Username: username, Password: password, Device: c.opts.Device})
}

// LoginToken logs in with a session token saved from an earlier Login.
func (c *Client) LoginToken(ctx context.Context, username, token string) (*protocol.LoginResp, error) {
	return c.login(ctx, &protocol.LoginReq{Username: username, Token: token, Device: c.opts.Device})
}

func (c *Client) login(ctx context.Context, req *protocol.LoginReq) (*protocol.LoginResp, error) {
	var r protocol.LoginResp
	if err := c.call(ctx, protocol.OpLogin, req, &r); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.username = r.Profile.Username
	if c.username == "" {
		c.username = req.Username
	}
	c.token = r.Token
	c.session = &r
	c.kicked = false
	c.mu.Unlock()
	return &r, nil
}

// Logout ends the session and revokes its token; the connection stays open.
func (c *Client) Logout(ctx context.Context) error {
	err := c.call(ctx, protocol.OpLogout, &protocol.LogoutReq{}, nil)
	c.mu.Lock()
	c.token = ""
	c.session = nil
	c.mu.Unlock()
	return err
}

// ChangePassword changes the account's password (account.password): every
// other session is kicked and every token revoked; the new token for this
// device is returned and kept for reconnecting.
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword string) (string, error) {
	var r protocol.AccountPasswordResp
	if err := c.call(ctx, protocol.OpAccountPassword,
		&protocol.AccountPasswordReq{OldPassword: oldPassword, NewPassword: newPassword}, &r); err != nil {
		return "", err
	}
	c.mu.Lock()
	c.token = r.Token
	c.mu.Unlock()
	return r.Token, nil
}

// Sessions lists the account's live sessions (account.sessions).
func (c *Client) Sessions(ctx context.Context) ([]protocol.SessionInfo, error) {
	var r protocol.AccountSessionsResp
	if err := c.call(ctx, protocol.OpAccountSessions, &protocol.AccountSessionsReq{}, &r); err != nil {
		return nil, err
	}
	return r.Sessions, nil
}

// RevokeDevice revokes another device's tokens and kicks its session
// (account.revoke).
func (c *Client) RevokeDevice(ctx context.Context, device string) error {
	return c.call(ctx, protocol.OpAccountRevoke, &protocol.AccountRevokeReq{Device: device}, nil)
}

// DeleteAccount deletes the account (account.delete); the server closes
// the connection after the reply, and the token is forgotten.
func (c *Client) DeleteAccount(ctx context.Context, password string) error {
	err := c.call(ctx, protocol.OpAccountDelete, &protocol.AccountDeleteReq{Password: password}, nil)
	if err == nil {
		c.mu.Lock()
		c.token = ""
		c.session = nil
		c.mu.Unlock()
	}
	return err
}

// Token returns the session token of the last successful login ("" when
// logged out). Store it to log in again later with LoginToken; never log it.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Session returns the reply of the last successful login (or re-login after
// a reconnect), or nil when logged out. Treat it as read-only.
func (c *Client) Session() *protocol.LoginResp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// UserID returns the logged-in user's id, or 0.
func (c *Client) UserID() int64 {
	if s := c.Session(); s != nil {
		return s.UserID
	}
	return 0
}

// Profile fetches a user's profile; the reply's Avatar holds the avatar as
// base64 when the user has one.
func (c *Client) Profile(ctx context.Context, userID int64) (*protocol.ProfileGetResp, error) {
	var r protocol.ProfileGetResp
	if err := c.call(ctx, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: userID}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateProfile changes the fields that are set in req and returns the new
// profile.
func (c *Client) UpdateProfile(ctx context.Context, req protocol.ProfileUpdateReq) (*protocol.Profile, error) {
	var r protocol.ProfileUpdateResp
	if err := c.call(ctx, protocol.OpProfileUpdate, &req, &r); err != nil {
		return nil, err
	}
	return &r.Profile, nil
}

// SetAvatar uploads image bytes as the user's avatar (at most 256 KiB by
// default); nil or empty removes it.
func (c *Client) SetAvatar(ctx context.Context, img []byte) (*protocol.Profile, error) {
	b64 := base64.StdEncoding.EncodeToString(img)
	return c.UpdateProfile(ctx, protocol.ProfileUpdateReq{Avatar: &b64})
}

// SearchUsers finds users whose username or nickname starts with query.
func (c *Client) SearchUsers(ctx context.Context, query string) ([]protocol.Profile, error) {
	var r protocol.UserSearchResp
	if err := c.call(ctx, protocol.OpUserSearch, &protocol.UserSearchReq{Query: query}, &r); err != nil {
		return nil, err
	}
	return r.Users, nil
}

// FriendRequest asks userID to become a friend and returns the request id.
func (c *Client) FriendRequest(ctx context.Context, userID int64, note string) (int64, error) {
	var r protocol.FriendRequestResp
	if err := c.call(ctx, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: userID, Note: note}, &r); err != nil {
		return 0, err
	}
	return r.RequestID, nil
}

// FriendRespond accepts or rejects a friend request addressed to this user.
func (c *Client) FriendRespond(ctx context.Context, requestID int64, accept bool) error {
	return c.call(ctx, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: requestID, Accept: accept}, nil)
}

// FriendRemove ends a friendship.
func (c *Client) FriendRemove(ctx context.Context, userID int64) error {
	return c.call(ctx, protocol.OpFriendRemove, &protocol.FriendRemoveReq{UserID: userID}, nil)
}

// Friends lists the user's friends with their online state.
func (c *Client) Friends(ctx context.Context) ([]protocol.Friend, error) {
	var r protocol.FriendListResp
	if err := c.call(ctx, protocol.OpFriendList, &protocol.FriendListReq{}, &r); err != nil {
		return nil, err
	}
	return r.Friends, nil
}

// FriendPending lists the pending friend requests to and from the user.
func (c *Client) FriendPending(ctx context.Context) (*protocol.FriendPendingResp, error) {
	var r protocol.FriendPendingResp
	if err := c.call(ctx, protocol.OpFriendPending, &protocol.FriendPendingReq{}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Send sends a text message to a friend.
func (c *Client) Send(ctx context.Context, toUser int64, text string) (*protocol.MsgSendResp, error) {
	return c.SendMsg(ctx, protocol.MsgSendReq{ToUser: toUser, Body: text})
}

// SendTo sends a text message to a group the user is a member of.
func (c *Client) SendTo(ctx context.Context, groupID int64, text string) (*protocol.MsgSendResp, error) {
	return c.SendMsg(ctx, protocol.MsgSendReq{ToGroup: groupID, Body: text})
}

// SendMsg sends a message as given; an empty ClientMsgID is filled with a
// random one. Because the server de-duplicates by client_msg_id, a send
// whose reply was lost with the connection is sent again after a
// reconnect (until ctx ends), and is stored exactly once; with
// Options.Reconnect a send answered UNAVAILABLE (a node shutting down, a
// store outage) is sent again the same way, after a backoff. Either way the
// application learns of its own message once, from this reply: a copy the
// server pushes back in the re-login backlog meanwhile is not delivered.
func (c *Client) SendMsg(ctx context.Context, req protocol.MsgSendReq) (*protocol.MsgSendResp, error) {
	if req.ClientMsgID == "" {
		req.ClientMsgID = NewClientMsgID()
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = make(map[string]struct{})
	}
	c.inflight[req.ClientMsgID] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inflight, req.ClientMsgID)
		c.mu.Unlock()
	}()
	unavailable := 0
	for {
		var r protocol.MsgSendResp
		err := c.call(ctx, protocol.OpMsgSend, &req, &r)
		if err == nil {
			// Our own message is not pushed to this connection, but it
			// would be after a reconnect: mark it delivered.
			c.seen.mark(r.Conv, r.Seq)
			return &r, nil
		}
		// UNAVAILABLE: the node is shutting down (it closes the
		// connection next, and the retry goes out on the reconnected
		// one, on another node when there are several) or its store is
		// down; either way the contract says retry later.
		wait := 10 * time.Millisecond
		if protocol.CodeOf(err) == protocol.CodeUnavailable {
			wait = c.backoff(unavailable)
			unavailable++
		} else if !isConnLost(err) {
			return nil, err
		}
		if !c.opts.Reconnect || ctx.Err() != nil {
			return nil, err
		}
		if st := c.State(); st != StateReconnecting && st != StateConnected {
			return nil, err // the client gave up reconnecting
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// NewClientMsgID returns a random client_msg_id (32 hex digits).
func NewClientMsgID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Sync returns up to limit messages of conv after afterSeq (limit 0: the
// server's default of 100; at most 500). It does not touch the duplicate
// filter: history is the application's to show.
func (c *Client) Sync(ctx context.Context, conv string, afterSeq int64, limit int) (*protocol.MsgSyncResp, error) {
	var r protocol.MsgSyncResp
	if err := c.call(ctx, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv, AfterSeq: afterSeq, Limit: limit}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SyncNew returns the messages of conv above afterSeq that this client has
// not delivered yet, and marks them delivered: use it for conversations
// whose backlog exceeds what the server pushes after login (500). more
// tells whether more remain above the last returned message.
func (c *Client) SyncNew(ctx context.Context, conv string, afterSeq int64) (msgs []protocol.Message, more bool, err error) {
	r, err := c.Sync(ctx, conv, afterSeq, 500)
	if err != nil {
		return nil, false, err
	}
	out := r.Messages[:0]
	for _, m := range r.Messages {
		if c.seen.mark(m.Conv, m.Seq) {
			out = append(out, m)
		}
	}
	return out, r.More, nil
}

// Delivered reports whether the message (conv, seq) has already been handed
// to the application (pushed, returned by SyncNew, sent by this client, or
// at or below the ack cursor at login).
func (c *Client) Delivered(conv string, seq int64) bool {
	return c.seen.seen(conv, seq)
}

// Ack moves the user's ack cursor of conv to seq: call it for messages the
// application has taken (stored or shown), so that they are not pushed
// again at the next login. The server never moves a cursor back.
func (c *Client) Ack(ctx context.Context, conv string, seq int64) error {
	return c.call(ctx, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: conv, Seq: seq}, nil)
}

// Read marks conv read up to seq; in a private conversation the other user
// gets a read receipt.
func (c *Client) Read(ctx context.Context, conv string, seq int64) error {
	return c.call(ctx, protocol.OpMsgRead, &protocol.MsgReadReq{Conv: conv, Seq: seq}, nil)
}

// Conversations lists the user's conversations with their cursors and last
// message.
func (c *Client) Conversations(ctx context.Context) ([]protocol.ConvInfo, error) {
	var r protocol.ConvListResp
	if err := c.call(ctx, protocol.OpConvList, &protocol.ConvListReq{}, &r); err != nil {
		return nil, err
	}
	return r.Convs, nil
}

// Recall takes back message seq of conv and returns the seq of the recall
// message the server appended. When the message was already recalled the
// error is ALREADY_EXISTS and the seq returned is the existing recall's, so
// a retry learns that it succeeded.
func (c *Client) Recall(ctx context.Context, conv string, seq int64) (int64, error) {
	var r protocol.MsgRecallResp
	err := c.call(ctx, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: seq}, &r)
	return r.Seq, err
}

// Typing tells the other members of conv that the user is typing (the
// server pushes at most one notice per user and conversation every 3 s).
func (c *Client) Typing(ctx context.Context, conv string) error {
	return c.call(ctx, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: conv}, nil)
}

// SearchMessages finds text messages containing req.Query in the user's
// conversations (or req.Conv alone), newest first; page by passing the last
// returned msg_id as req.BeforeMsgID while the reply's More is true.
func (c *Client) SearchMessages(ctx context.Context, req protocol.MsgSearchReq) (*protocol.MsgSearchResp, error) {
	var r protocol.MsgSearchResp
	if err := c.call(ctx, protocol.OpMsgSearch, &req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// GroupCreate creates a group owned by the user; members (friends of the
// user) join it too.
func (c *Client) GroupCreate(ctx context.Context, name string, members []int64) (*protocol.Group, error) {
	var r protocol.GroupResp
	if err := c.call(ctx, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: name, Members: members}, &r); err != nil {
		return nil, err
	}
	return &r.Group, nil
}

// GroupJoin joins a group.
func (c *Client) GroupJoin(ctx context.Context, groupID int64) (*protocol.Group, error) {
	var r protocol.GroupResp
	if err := c.call(ctx, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: groupID}, &r); err != nil {
		return nil, err
	}
	return &r.Group, nil
}

// GroupLeave leaves a group (the owner must dismiss it instead).
func (c *Client) GroupLeave(ctx context.Context, groupID int64) error {
	return c.call(ctx, protocol.OpGroupLeave, &protocol.GroupIDReq{GroupID: groupID}, nil)
}

// GroupKick removes a member (the owner, or an admin of a plain member).
func (c *Client) GroupKick(ctx context.Context, groupID, userID int64) error {
	return c.call(ctx, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: groupID, UserID: userID}, nil)
}

// GroupDismiss deletes a group (owner only).
func (c *Client) GroupDismiss(ctx context.Context, groupID int64) error {
	return c.call(ctx, protocol.OpGroupDismiss, &protocol.GroupIDReq{GroupID: groupID}, nil)
}

// GroupMembers lists a group's members with their online state, role and mute.
func (c *Client) GroupMembers(ctx context.Context, groupID int64) ([]protocol.GroupMember, error) {
	var r protocol.GroupMembersResp
	if err := c.call(ctx, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: groupID}, &r); err != nil {
		return nil, err
	}
	return r.Members, nil
}

// GroupUpdate changes a group's name and/or notice (nil stays; owner or
// admin) and returns the group.
func (c *Client) GroupUpdate(ctx context.Context, groupID int64, name, notice *string) (*protocol.Group, error) {
	var r protocol.GroupResp
	if err := c.call(ctx, protocol.OpGroupUpdate, &protocol.GroupUpdateReq{GroupID: groupID, Name: name, Notice: notice}, &r); err != nil {
		return nil, err
	}
	return &r.Group, nil
}

// GroupSetRole makes a member protocol.RoleAdmin or protocol.RoleMember
// (owner only).
func (c *Client) GroupSetRole(ctx context.Context, groupID, userID int64, role string) error {
	return c.call(ctx, protocol.OpGroupSetRole, &protocol.GroupSetRoleReq{GroupID: groupID, UserID: userID, Role: role}, nil)
}

// GroupMute mutes a member until the unix ms until (0 lifts the mute;
// owner or admin).
func (c *Client) GroupMute(ctx context.Context, groupID, userID, until int64) error {
	return c.call(ctx, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: groupID, UserID: userID, Until: until}, nil)
}

// GroupTransfer makes a member the owner; the caller becomes an admin
// (owner only).
func (c *Client) GroupTransfer(ctx context.Context, groupID, userID int64) error {
	return c.call(ctx, protocol.OpGroupTransfer, &protocol.GroupTransferReq{GroupID: groupID, UserID: userID}, nil)
}

// GroupList lists the groups the user is a member of.
func (c *Client) GroupList(ctx context.Context) ([]protocol.Group, error) {
	var r protocol.GroupListResp
	if err := c.call(ctx, protocol.OpGroupList, &protocol.GroupListReq{}, &r); err != nil {
		return nil, err
	}
	return r.Groups, nil
}

// FileOffer announces a file to a user or group and returns the upload
// token and file address (use Upload, or SendFile for the whole exchange).
func (c *Client) FileOffer(ctx context.Context, req protocol.FileOfferReq) (*protocol.FileOfferResp, error) {
	var r protocol.FileOfferResp
	if err := c.call(ctx, protocol.OpFileOffer, &req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// FileFetch asks for a download token of a file shared in one of the user's
// conversations (use Download, or DownloadFile for the whole exchange).
func (c *Client) FileFetch(ctx context.Context, fileID int64) (*protocol.FileFetchResp, error) {
	var r protocol.FileFetchResp
	if err := c.call(ctx, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: fileID}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RoomCreate creates a live room, joins it and returns its id.
func (c *Client) RoomCreate(ctx context.Context, name string) (int64, error) {
	var r protocol.RoomCreateResp
	if err := c.call(ctx, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: name}, &r); err != nil {
		return 0, err
	}
	return r.RoomID, nil
}

// RoomJoin joins a room and returns its members.
func (c *Client) RoomJoin(ctx context.Context, roomID int64) ([]protocol.Profile, error) {
	var r protocol.RoomJoinResp
	if err := c.call(ctx, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: roomID}, &r); err != nil {
		return nil, err
	}
	return r.Members, nil
}

// RoomLeave leaves a room.
func (c *Client) RoomLeave(ctx context.Context, roomID int64) error {
	return c.call(ctx, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: roomID}, nil)
}

// RoomSay sends live text to a room's other members (not stored).
func (c *Client) RoomSay(ctx context.Context, roomID int64, body string) error {
	return c.call(ctx, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: roomID, Body: body}, nil)
}

// RoomMedia sends a binary media payload to a room. There is no reply: the
// server silently drops payloads over its limit or for rooms the user is
// not in, and media to slow receivers.
func (c *Client) RoomMedia(ctx context.Context, roomID int64, payload []byte) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	cn, err := c.getConn(ctx)
	if err != nil {
		return fmt.Errorf("client: room.media: %w", err)
	}
	id := c.newID()
	err = cn.writeFrame(ctx, func(dst []byte) ([]byte, error) {
		return protocol.AppendRoomMediaFrame(dst, id, roomID, payload), nil
	})
	if err != nil {
		return fmt.Errorf("client: room.media: %w", err)
	}
	return nil
}
