package service

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Messages (section 7): send with durable-before-reply and idempotency,
// delivery in seq order, missed messages after login, sync, ack, read
// receipts and the conversation list.

func toMessage(m store.Message) protocol.Message {
	return protocol.Message{MsgID: m.ID, Conv: m.Conv, Seq: m.Seq, From: m.From, Ts: m.TS,
		Type: m.Type, Body: m.Body, ClientMsgID: m.ClientMsgID,
		Mentions: m.Mentions, MentionAll: m.MentionAll, ReplyTo: m.ReplyTo}
}

func toConvInfo(c store.ConvInfo) protocol.ConvInfo {
	ci := protocol.ConvInfo{Conv: c.Conv, LastSeq: c.LastSeq, AckSeq: c.AckSeq, ReadSeq: c.ReadSeq, MentionSeq: c.MentionSeq}
	if c.Last != nil {
		m := toMessage(*c.Last)
		ci.Last = &m
	}
	return ci
}

func (s *Server) msgSend(x *call, req *protocol.MsgSendReq) (*protocol.MsgSendResp, error) {
	ctx, me := x.ctx(), x.sess.userID
	conv, err := s.convTo(ctx, me, x.sess, req.ToUser, req.ToGroup, "cannot message yourself")
	if err != nil {
		return nil, err
	}
	typ := req.TypeOrDefault()
	if typ == protocol.MsgFile {
		if err := s.checkFileMessage(ctx, req.Body, conv); err != nil {
			return nil, err
		}
	}
	if err := s.checkMentions(ctx, conv, me, req); err != nil {
		return nil, err
	}
	// A quoted seq the sequencer has released exists; only a newer one (or
	// a conversation this node has not seen) costs a store read.
	if req.ReplyTo != 0 && req.ReplyTo > s.seq.released(conv.String()) {
		if _, err := s.store.MessageAt(ctx, conv, req.ReplyTo); errors.Is(err, store.ErrNotFound) {
			return nil, protocol.NewError(protocol.CodeNotFound, "reply_to: no such message")
		} else if err != nil {
			return nil, err
		}
	}
	m, _, release, err := s.post(ctx, conv, store.NewMessage{From: me, Type: typ, Body: req.Body,
		ClientMsgID: req.ClientMsgID, TS: time.Now().UnixMilli(),
		Mentions: req.Mentions, MentionAll: req.MentionAll, ReplyTo: req.ReplyTo}, x.cs)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, protocol.NewError(protocol.CodeForbidden, "no such conversation")
		}
		return nil, err
	}
	// The sender's reply goes out before the delivery is released.
	x.then = func(bool) { release() }
	return &protocol.MsgSendResp{Status: protocol.OK(), MsgID: m.ID, Conv: m.Conv, Seq: m.Seq, Ts: m.TS}, nil
}

// checkMentions applies the rules of mentions the request body alone
// cannot decide (protocol validation already kept them to groups and 50
// ids): every mentioned user is a current member, and only the owner or an
// admin mentions all.
func (s *Server) checkMentions(ctx context.Context, conv protocol.ConvID, me int64, req *protocol.MsgSendReq) error {
	if len(req.Mentions) == 0 && !req.MentionAll {
		return nil
	}
	if !conv.IsGroup() {
		return protocol.BadRequest("mentions", "only in group conversations")
	}
	gid := conv.GroupID()
	if req.MentionAll {
		role, err := s.groupRole(ctx, gid, me)
		if err != nil {
			return err
		}
		if role != store.RoleOwner && role != store.RoleAdmin {
			return protocol.NewError(protocol.CodeForbidden, "only the owner or an admin may mention all")
		}
	}
	for _, u := range req.Mentions {
		in, err := s.groups.isMember(ctx, gid, u)
		if err != nil {
			return err
		}
		if !in {
			return protocol.BadRequest("mentions", "user "+strconv.FormatInt(u, 10)+" is not a member")
		}
	}
	return nil
}

// groupRole returns the user's role in the group, "" when not a member.
func (s *Server) groupRole(ctx context.Context, gid, user int64) (store.Role, error) {
	m, err := s.store.GroupMember(ctx, gid, user)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return m.Role, err
}

// convTo resolves the conversation of a message or file addressed to a
// user (who must be a friend; self is the refusal for oneself) or to a
// group (which me must be in). sess, when not nil, answers "friends?" from
// its cache before asking the store.
func (s *Server) convTo(ctx context.Context, me int64, sess *Session, toUser, toGroup int64, self string) (protocol.ConvID, error) {
	if toUser != 0 {
		if toUser == me {
			return protocol.ConvID{}, protocol.BadRequest("to_user", self)
		}
		ok := sess != nil && sess.friends.has(toUser)
		if !ok {
			var err error
			if ok, err = s.store.AreFriends(ctx, me, toUser); err != nil {
				return protocol.ConvID{}, err
			}
		}
		if !ok {
			if _, err := s.store.UserByID(ctx, toUser); errors.Is(err, store.ErrNotFound) {
				return protocol.ConvID{}, protocol.NewError(protocol.CodeNotFound, "user not found")
			} else if err != nil {
				return protocol.ConvID{}, err
			}
			return protocol.ConvID{}, protocol.NewError(protocol.CodeForbidden, "not friends")
		}
		return protocol.NewPrivateConv(me, toUser)
	}
	in, err := s.groups.isMember(ctx, toGroup, me)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.ConvID{}, protocol.NewError(protocol.CodeNotFound, "group not found")
	}
	if err != nil {
		return protocol.ConvID{}, err
	}
	if !in {
		return protocol.ConvID{}, protocol.NewError(protocol.CodeForbidden, "not a member of the group")
	}
	if err := s.checkNotMuted(ctx, toGroup, me); err != nil {
		return protocol.ConvID{}, err
	}
	return protocol.NewGroupConv(toGroup)
}

// checkFileMessage lets a "file" message name only a file of its
// conversation.
func (s *Server) checkFileMessage(ctx context.Context, body string, conv protocol.ConvID) error {
	id, err := protocol.ParseFileMessageBody(body)
	if err != nil {
		return err
	}
	f, err := s.store.File(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.NewError(protocol.CodeNotFound, "file not found")
	}
	if err != nil {
		return err
	}
	if f.Conv != conv.String() {
		return protocol.NewError(protocol.CodeForbidden, "file belongs to another conversation")
	}
	return nil
}

// post appends a message to conv (nm.Conv is set from it). It returns the
// stored message, whether it was a duplicate, and release, which the
// caller must call once (after queuing its reply, so that the reply comes
// first): it hands the delivery to every online session of every member
// except skip (the sending connection) to the sequencer, which releases it
// in seq order per conversation. On error there is nothing to release.
func (s *Server) post(ctx context.Context, conv protocol.ConvID, nm store.NewMessage, skip *connState) (store.Message, bool, func(), error) {
	nm.Conv = conv.String()
	return s.appendAndDeliver(ctx, conv, skip, func() (store.Message, bool, error) { return s.store.AppendMessage(ctx, nm) })
}

// appendAndDeliver runs add, which appends one message to conv (a message
// or a recall), inside conv's sequencer order, and returns what post
// returns; on error the message add returned is passed back too.
func (s *Server) appendAndDeliver(ctx context.Context, conv protocol.ConvID, skip *connState, add func() (store.Message, bool, error)) (store.Message, bool, func(), error) {
	tk := s.seq.begin(conv.String())
	start := time.Now()
	m, dup, err := add()
	metricAppend.Observe(time.Since(start).Seconds())
	if err != nil {
		s.seq.done(tk, 0, nil)
		return m, false, nil, err
	}
	if dup {
		return m, true, func() { s.seq.done(tk, 0, nil) }, nil
	}
	return m, false, func() {
		frame := encodePush(protocol.OpMsgPush, &protocol.MsgPush{Message: toMessage(m)})
		s.seq.done(tk, m.Seq, func() { s.deliver(ctx, conv, m.Conv, m.Seq, frame, skip) })
	}, nil
}

// deliver pushes a msg frame to the online members of id (key is its wire
// form). It runs under the conversation's sequencer lock: it only queues
// writes (the group member set is an atomic load unless it must be read
// from the store).
func (s *Server) deliver(ctx context.Context, id protocol.ConvID, key string, seq int64, frame outFrame, skip *connState) {
	var members []int64
	if id.IsPrivate() {
		a, b := id.Users()
		members = []int64{a, b}
	} else {
		var err error
		if members, err = s.groups.members(ctx, id.GroupID()); err != nil {
			s.log.Warn().Str("conv", key).Err(err).Msg("deliver: group members")
			return
		}
	}
	// Flushed (and sent to other nodes) before returning, still under the
	// sequencer's lock, so the next seq of the conversation is queued
	// after this one.
	n, _ := s.pushUsers(members, frame, key, seq, skip)
	metricPushes.Add(float64(n))
}

// PostMessage appends a message generated by the server or another service
// on its behalf (for example the "file" message stored when an upload
// completes) and delivers it to every online session of the conversation's
// members, in seq order with chat messages. It returns the stored message
// and whether it was a duplicate (same From and ClientMsgID; nothing is
// delivered again). nm.Conv must be a valid conversation id.
func (s *Server) PostMessage(ctx context.Context, nm store.NewMessage) (protocol.Message, bool, error) {
	conv, err := protocol.ParseConv(nm.Conv)
	if err != nil {
		return protocol.Message{}, false, err
	}
	m, dup, release, err := s.post(ctx, conv, nm, nil)
	if err != nil {
		return protocol.Message{}, false, err
	}
	release()
	return toMessage(m), dup, nil
}

// PushToUser queues a push (op, JSON body) on every online session of the
// user and reports whether there was any.
func (s *Server) PushToUser(userID int64, op protocol.Op, body any) (bool, error) {
	frame, err := protocol.AppendJSONFrame(nil, op, 0, body)
	if err != nil {
		return false, err
	}
	return s.pushToUser(userID, outFrame{op, frame}), nil
}

// convMember checks that the user belongs to conv (FORBIDDEN otherwise).
func (s *Server) convMember(ctx context.Context, user int64, conv string) error {
	ok, err := s.store.IsConvMember(ctx, user, conv)
	if err != nil {
		return err
	}
	if !ok {
		return protocol.NewError(protocol.CodeForbidden, "not a member of the conversation")
	}
	return nil
}

func (s *Server) msgSync(x *call, req *protocol.MsgSyncReq) (*protocol.MsgSyncResp, error) {
	if err := s.convMember(x.ctx(), x.sess.userID, req.Conv); err != nil {
		return nil, err
	}
	limit := s.cfg.Limits.SyncLimit(req.Limit)
	msgs, err := s.store.Messages(x.ctx(), req.Conv, req.AfterSeq, limit+1)
	if err != nil {
		return nil, err
	}
	resp := &protocol.MsgSyncResp{Status: protocol.OK(), Messages: make([]protocol.Message, 0, min(len(msgs), limit))}
	for i, m := range msgs {
		if i == limit {
			resp.More = true
			break
		}
		resp.Messages = append(resp.Messages, toMessage(m))
	}
	x.encode = func() ([]byte, error) { return s.fitSync(x, resp) }
	return resp, nil
}

// fitSync encodes a sync reply, dropping messages from the end (and setting
// more) until the body fits in the maximum frame.
func (s *Server) fitSync(x *call, resp *protocol.MsgSyncResp) ([]byte, error) {
	maxBody := s.cfg.Limits.MaxFrameBody
	all := resp.Messages
	enc := func(n int) ([]byte, error) {
		resp.Messages = all[:n]
		if n < len(all) {
			resp.More = true
		}
		return protocol.AppendJSONFrame(nil, x.op, x.reqID, resp)
	}
	frame, err := enc(len(all))
	if err != nil || len(frame)-protocol.HeaderSize <= maxBody {
		return frame, err
	}
	// Largest n that fits, by binary search: fits(lo) holds, fits(hi) not.
	lo, hi := 0, len(all)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		f, err := enc(mid)
		if err != nil {
			return nil, err
		}
		if len(f)-protocol.HeaderSize <= maxBody {
			lo = mid
		} else {
			hi = mid
		}
	}
	return enc(lo)
}

func (s *Server) msgAck(x *call, req *protocol.MsgAckReq) (*protocol.Status, error) {
	err := s.store.Ack(x.ctx(), x.sess.userID, req.Conv, req.Seq)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeForbidden, "not a member of the conversation")
	}
	if err != nil {
		return nil, err
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) msgRead(x *call, req *protocol.MsgReadReq) (*protocol.Status, error) {
	me := x.sess.userID
	err := s.store.MarkRead(x.ctx(), me, req.Conv, req.Seq)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeForbidden, "not a member of the conversation")
	}
	if err != nil {
		return nil, err
	}
	if id, err := protocol.ParseConv(req.Conv); err == nil && id.IsPrivate() {
		if peer := id.Peer(me); peer != 0 {
			s.pushToUser(peer, encodePush(protocol.OpReadReceipt, &protocol.ReadReceiptPush{Conv: req.Conv, UserID: me, Seq: req.Seq}))
		}
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) convList(x *call, _ *protocol.ConvListReq) (*protocol.ConvListResp, error) {
	convs, err := s.store.Conversations(x.ctx(), x.sess.userID, maxConvs)
	if err != nil {
		return nil, err
	}
	resp := &protocol.ConvListResp{Status: protocol.OK(), Convs: make([]protocol.ConvInfo, 0, len(convs))}
	for _, c := range convs {
		resp.Convs = append(resp.Convs, toConvInfo(c))
	}
	x.fit(resp, func() bool { return shrinkConvs(&resp.Convs) })
	return resp, nil
}
