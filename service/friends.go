package service

import (
	"errors"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Friends (section 6): requests with their notices delivered now or after
// the next login, answers, removal and the friend list.

// pushToUser writes a frame to every session of user.
func (s *Server) pushToUser(user int64, frame outFrame) bool {
	ss := s.router.Sessions(user)
	var out fanout
	out.reset(frame)
	for _, sess := range ss {
		out.add(sess, "", 0)
	}
	out.flush()
	return len(ss) > 0
}

// friendChanged updates the friend caches of both users' sessions.
func (s *Server) friendChanged(a, b int64, friends bool) {
	for _, sess := range s.router.Sessions(a) {
		sess.changeFriend(b, friends)
	}
	for _, sess := range s.router.Sessions(b) {
		sess.changeFriend(a, friends)
	}
}

// profiles returns the profiles of ids (missing users get a bare profile
// with only the id, which cannot happen for ids read from the store).
func (s *Server) profiles(x *call, ids ...int64) (map[int64]protocol.Profile, error) {
	users, err := s.store.UsersByIDs(x.ctx(), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]protocol.Profile, len(ids))
	for _, id := range ids {
		if u, ok := users[id]; ok {
			out[id] = toProfile(u)
		} else {
			out[id] = protocol.Profile{UserID: id}
		}
	}
	return out, nil
}

func (s *Server) friendRequest(x *call, req *protocol.FriendRequestReq) (*protocol.FriendRequestResp, error) {
	me := x.sess.userID
	if req.UserID == me {
		return nil, protocol.BadRequest("user_id", "cannot befriend yourself")
	}
	fr, err := s.store.CreateFriendRequest(x.ctx(), me, req.UserID, req.Note, time.Now().UnixMilli())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, protocol.NewError(protocol.CodeNotFound, "user not found")
	case errors.Is(err, store.ErrAlreadyFriends):
		return nil, protocol.NewError(protocol.CodeAlreadyExists, "already friends")
	case errors.Is(err, store.ErrRequestPending):
		return nil, protocol.NewError(protocol.CodeAlreadyExists, "a request is already pending")
	case err != nil:
		return nil, err
	}
	s.pushToUser(req.UserID, encodePush(protocol.OpFriendRequested, &protocol.FriendRequestedPush{
		RequestID: fr.ID, From: x.sess.Profile(), Note: fr.Note}))
	return &protocol.FriendRequestResp{Status: protocol.OK(), RequestID: fr.ID}, nil
}

func (s *Server) friendPending(x *call, _ *protocol.FriendPendingReq) (*protocol.FriendPendingResp, error) {
	in, out, err := s.store.PendingFriendRequests(x.ctx(), x.sess.userID, maxPending)
	if err != nil {
		return nil, err
	}
	ids := []int64{x.sess.userID}
	for _, r := range in {
		ids = append(ids, r.From)
	}
	for _, r := range out {
		ids = append(ids, r.To)
	}
	ps, err := s.profiles(x, ids...)
	if err != nil {
		return nil, err
	}
	conv := func(rs []store.FriendRequest) []protocol.FriendReq {
		list := make([]protocol.FriendReq, 0, len(rs))
		for _, r := range rs {
			list = append(list, protocol.FriendReq{RequestID: r.ID, From: ps[r.From], To: ps[r.To], Note: r.Note, Ts: r.CreatedAt})
		}
		return list
	}
	return &protocol.FriendPendingResp{Status: protocol.OK(), Incoming: conv(in), Outgoing: conv(out)}, nil
}

func (s *Server) friendRespond(x *call, req *protocol.FriendRespondReq) (*protocol.Status, error) {
	me := x.sess.userID
	fr, err := s.store.FriendRequest(x.ctx(), req.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "request not found")
	}
	if err != nil {
		return nil, err
	}
	if fr.To != me {
		return nil, protocol.NewError(protocol.CodeForbidden, "only the target of a request may answer it")
	}
	fr, err = s.store.RespondFriendRequest(x.ctx(), req.RequestID, req.Accept, time.Now().UnixMilli())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotPending):
		return nil, protocol.NewError(protocol.CodeNotFound, "no pending request with that id")
	case err != nil:
		return nil, err
	}
	if req.Accept {
		s.friendChanged(fr.From, fr.To, true)
	}
	push := encodePush(protocol.OpFriendResponded, &protocol.FriendRespondedPush{
		RequestID: fr.ID, By: x.sess.Profile(), Accepted: req.Accept})
	if s.pushToUser(fr.From, push) {
		// Delivered now: not owed after the requester's next login.
		if err := s.store.MarkResponsesNotified(x.ctx(), []int64{fr.ID}); err != nil {
			s.log.Warn().Int64("request", fr.ID).Err(err).Msg("mark response notified")
		}
	}
	if req.Accept {
		// Each learns the other's presence.
		s.pushToUser(fr.From, encodePush(protocol.OpPresence, &protocol.PresencePush{UserID: me, Online: true}))
		s.pushToUser(me, encodePush(protocol.OpPresence, &protocol.PresencePush{UserID: fr.From, Online: s.router.Online(fr.From)}))
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) friendRemove(x *call, req *protocol.FriendRemoveReq) (*protocol.Status, error) {
	me := x.sess.userID
	if req.UserID == me {
		return nil, protocol.BadRequest("user_id", "cannot remove yourself")
	}
	err := s.store.RemoveFriend(x.ctx(), me, req.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "not friends")
	}
	if err != nil {
		return nil, err
	}
	s.friendChanged(me, req.UserID, false)
	s.pushToUser(req.UserID, encodePush(protocol.OpFriendRemoved, &protocol.FriendRemovedPush{UserID: me}))
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

func (s *Server) friendList(x *call, _ *protocol.FriendListReq) (*protocol.FriendListResp, error) {
	friends, err := s.store.Friends(x.ctx(), x.sess.userID, maxFriends)
	if err != nil {
		return nil, err
	}
	resp := &protocol.FriendListResp{Status: protocol.OK(), Friends: make([]protocol.Friend, 0, len(friends))}
	for _, f := range friends {
		resp.Friends = append(resp.Friends, protocol.Friend{Profile: toProfile(f), Online: s.router.Online(f.ID)})
	}
	return resp, nil
}
