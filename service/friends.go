package service

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Friends (section 6), all of it: the handlers (requests with their
// notices delivered now or after the next login, answers, removal and the
// friend list), each session's friend set, presence pushes and the friend
// notices that open a login backlog.

// friendChanged updates the friend caches of both users' sessions, on
// every node.
func (s *Server) friendChanged(a, b int64, friends bool) {
	s.friendCachesChanged(a, b, friends)
	s.broadcast(s.ctx, busFriend, &busHeader{User: a, Peer: b, On: friends})
}

// friendCachesChanged updates the friend caches of both users' sessions on
// this node.
func (s *Server) friendCachesChanged(a, b int64, friends bool) {
	for _, sess := range s.router.Sessions(a) {
		sess.friends.change(b, friends)
	}
	for _, sess := range s.router.Sessions(b) {
		sess.friends.change(a, friends)
	}
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

func friendIDs(us []store.User) []int64 {
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

// pushPresence tells the user's online friends whether the user is online
// now. The state is read at send time, so when a logout's notice and a new
// login's race, both say the truth.
func (s *Server) pushPresence(user int64, friends []int64) {
	if len(friends) == 0 {
		return
	}
	s.pushUsers(friends, encodePush(protocol.OpPresence, &protocol.PresencePush{UserID: user, Online: s.router.Online(user)}), "", 0, nil)
}

// sendFriendNotices writes, as the start of a login backlog, the pending
// friend requests to the user and the answers to its requests not yet
// pushed (marked as pushed first). It reports failures to fail, and returns
// false when the backlog cannot go on.
func (s *Server) sendFriendNotices(x *call, sess *Session, fail func(step string, err error)) bool {
	ctx, me := x.ctx(), sess.userID
	in, resps, err := s.store.FriendNotices(ctx, me, maxPending)
	if err != nil {
		fail("friend notices", err)
		return false
	}
	if len(in)+len(resps) > 0 {
		ids := make([]int64, 0, len(in)+len(resps))
		for _, r := range in {
			ids = append(ids, r.From)
		}
		for _, r := range resps {
			ids = append(ids, r.To)
		}
		ps, err := s.profiles(x, ids...)
		if err != nil {
			fail("profiles", err)
			return false
		}
		// Answers are marked notified before they are written: a client
		// that reads them and logs in again at once must not find them
		// still owed.
		if len(resps) > 0 {
			done := make([]int64, 0, len(resps))
			for _, r := range resps {
				done = append(done, r.ID)
			}
			if err := s.store.MarkResponsesNotified(ctx, done); err != nil {
				fail("mark notified", err)
			}
		}
		for _, r := range in {
			sess.noteBacklog(protocol.OpFriendRequested, r.ID)
			_ = x.cs.write(encodePush(protocol.OpFriendRequested, &protocol.FriendRequestedPush{RequestID: r.ID, From: ps[r.From], Note: r.Note}))
		}
		for _, r := range resps {
			sess.noteBacklog(protocol.OpFriendResponded, r.ID)
			_ = x.cs.write(encodePush(protocol.OpFriendResponded, &protocol.FriendRespondedPush{
				RequestID: r.ID, By: ps[r.To], Accepted: r.Status == store.RequestAccepted}))
		}
	}
	return true
}

// friendSet is a session's cache of the user's friend ids (loaded at login,
// changed by this node's accepts and removals) so a send to a friend needs
// no store read; a miss falls back to the store. Copy-on-write: it is
// changed rarely and read on every send.
type friendSet struct {
	p atomic.Pointer[map[int64]struct{}]
}

// noFriends is the set of a session with no friends; never written.
var noFriends = map[int64]struct{}{}

// snapshot returns the current set, to pass to fill.
func (f *friendSet) snapshot() *map[int64]struct{} { return f.p.Load() }

// fill sets the cache from a store read made after the session was
// attached, unless the cache changed since before the read (was): then the
// read may be stale, and an empty cache (every send asks the store) is the
// safe answer.
func (f *friendSet) fill(was *map[int64]struct{}, ids []int64) {
	if len(ids) == 0 {
		// Shared by every session without friends (a set is never
		// changed in place): no map per idle session.
		if !f.p.CompareAndSwap(was, &noFriends) {
			f.p.Store(&noFriends)
		}
		return
	}
	m := make(map[int64]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	if !f.p.CompareAndSwap(was, &m) {
		f.p.Store(&map[int64]struct{}{})
	}
}

// has reports whether the cache knows id as a friend.
func (f *friendSet) has(id int64) bool {
	p := f.p.Load()
	if p == nil {
		return false
	}
	_, ok := (*p)[id]
	return ok
}

// change adds or removes id.
func (f *friendSet) change(id int64, add bool) {
	for {
		old := f.p.Load()
		m := make(map[int64]struct{})
		if old != nil {
			for k := range *old {
				m[k] = struct{}{}
			}
		}
		if add {
			m[id] = struct{}{}
		} else {
			delete(m, id)
		}
		if f.p.CompareAndSwap(old, &m) {
			return
		}
	}
}
