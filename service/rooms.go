package service

import (
	"errors"
	"time"

	"github.com/chatd/chatd/protocol"
)

// Room handlers (sections 10 and 16). Room state is in memory only; the handlers
// run on the pool like every other request so a connection's requests keep
// their order, but they never touch the store.

func roomErr(err error) error {
	switch {
	case errors.Is(err, ErrRoomNotFound):
		return protocol.NewError(protocol.CodeNotFound, "room not found")
	case errors.Is(err, ErrNotInRoom):
		return protocol.NewError(protocol.CodeForbidden, "not in the room")
	case errors.Is(err, ErrAlreadyInRoom):
		return protocol.NewError(protocol.CodeAlreadyExists, "already in the room")
	}
	return err
}

// pushToSessions writes one encoded frame to every session of this node
// but skip, as one batched fan-out (members on other nodes, in a cluster,
// get it from their node).
func pushToSessions(members []*Session, skip *Session, frame outFrame) {
	var f fanout
	f.reset(frame)
	for _, m := range members {
		if m != skip && m.remoteNode() == "" {
			f.add(m, "", 0)
		}
	}
	f.flush()
}

func (s *Server) roomCreate(x *call, req *protocol.RoomCreateReq) (*protocol.RoomCreateResp, error) {
	var rm protocol.Room
	if c := s.croom; c != nil {
		var err error
		if rm, err = c.create(req.Name, x.sess); err != nil {
			return nil, err
		}
	} else {
		rm = s.rooms.Create(req.Name, x.sess)
	}
	if !s.noteJoined(x.cs, rm.RoomID) {
		return nil, errConnClosed()
	}
	if s.croom != nil {
		s.croom.joined(s.ctx, rm, x.sess)
	}
	return &protocol.RoomCreateResp{Status: protocol.OK(), RoomID: rm.RoomID, Room: &rm}, nil
}

// errConnClosed answers a room request whose connection closed while it
// ran (nobody reads the answer).
func errConnClosed() error { return protocol.NewError(protocol.CodeUnavailable, "connection closed") }

// noteJoined records that cs is in room id and reports whether it still
// is: a connection that closed meanwhile, after OnClose took its rooms,
// leaves the room again here, else it would stay a member for good.
func (s *Server) noteJoined(cs *connState, id int64) bool {
	cs.joinRoom(id)
	if cs.closed.Load() { // set by OnClose before it takes the rooms
		s.leaveAllRooms(cs)
		return false
	}
	return true
}

// roomJoin adds the caller and replies with the first page of members; the
// others hear of it only while the room is at most at the threshold.
func (s *Server) roomJoin(x *call, req *protocol.RoomIDReq) (*protocol.RoomJoinResp, error) {
	ch, err := s.rooms.Join(req.RoomID, x.sess)
	if err != nil {
		return nil, roomErr(err)
	}
	if !s.noteJoined(x.cs, req.RoomID) {
		return nil, errConnClosed()
	}
	if s.croom != nil {
		s.croom.joined(s.ctx, ch.Room, x.sess)
	}
	if ch.Announce {
		pushToSessions(ch.Members, x.sess, encodePush(protocol.OpRoomEvent,
			&protocol.RoomEventPush{RoomID: req.RoomID, Kind: protocol.RoomJoined, UserID: x.sess.userID}))
	}
	members, more, err := s.rooms.Page(req.RoomID, x.sess, 0, s.cfg.Limits.RoomJoinMembers)
	if err != nil { // left already, by a concurrent close
		return nil, roomErr(err)
	}
	return &protocol.RoomJoinResp{Status: protocol.OK(), Room: &ch.Room, Members: members, More: more}, nil
}

func (s *Server) roomMembers(x *call, req *protocol.RoomMembersReq) (*protocol.RoomMembersResp, error) {
	members, more, err := s.rooms.Page(req.RoomID, x.sess, req.AfterUserID, s.cfg.Limits.RoomMembersLimit(req.Limit))
	if err != nil {
		return nil, roomErr(err)
	}
	return &protocol.RoomMembersResp{Status: protocol.OK(), Members: members, More: more}, nil
}

func (s *Server) roomLeave(x *call, req *protocol.RoomIDReq) (*protocol.Status, error) {
	if err := s.leaveRoom(x.cs, x.sess, req.RoomID, true); err != nil {
		return nil, roomErr(err)
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

// leaveRoom removes sess from a room and, at most at the threshold, tells
// the others. In a cluster, wait makes it wait until the other nodes have
// the leave (a request on the pool may wait; a closing connection's loop
// may not).
func (s *Server) leaveRoom(cs *connState, sess *Session, id int64, wait bool) error {
	ch, err := s.rooms.Leave(id, sess)
	if err != nil {
		return err
	}
	cs.leftRoom(id)
	if s.croom != nil {
		s.croom.left(s.ctx, id, sess, wait)
	}
	if ch.Announce {
		pushToSessions(ch.Members, nil, encodePush(protocol.OpRoomEvent,
			&protocol.RoomEventPush{RoomID: id, Kind: protocol.RoomLeft, UserID: sess.userID}))
	}
	return nil
}

// pushRoomCount sends a coalesced count event (rooms above the threshold).
func pushRoomCount(id int64, count int, members []*Session) {
	pushToSessions(members, nil, encodePush(protocol.OpRoomEvent,
		&protocol.RoomEventPush{RoomID: id, Kind: protocol.RoomCount, MemberCount: count}))
}

// leaveAllRooms takes a closing or logging-out connection out of its rooms.
// It only touches memory and queues writes, so it may run on a loop.
func (s *Server) leaveAllRooms(cs *connState) {
	ids := cs.takeRooms()
	if len(ids) == 0 {
		return
	}
	sess := cs.session()
	if sess == nil {
		return
	}
	for _, id := range ids {
		_ = s.leaveRoom(cs, sess, id, false)
	}
}

func (s *Server) roomSay(x *call, req *protocol.RoomSayReq) (*protocol.Status, error) {
	members, in, err := s.rooms.Members(req.RoomID, x.sess)
	if err != nil {
		return nil, roomErr(err)
	}
	if !in {
		return nil, roomErr(ErrNotInRoom)
	}
	frame := encodePush(protocol.OpRoomSaid, &protocol.RoomSaidPush{
		RoomID: req.RoomID, From: x.sess.userID, Body: req.Body, Ts: time.Now().UnixMilli()})
	pushToSessions(members, x.sess, frame)
	if s.croom != nil {
		s.croom.relay(req.RoomID, members, frame.b, false)
	}
	return &protocol.Status{Code: protocol.CodeOK}, nil
}

// roomMedia relays a room.media frame on the loop: no reply, no store, and
// lossy writes so a slow receiver loses media but never chat. A bad frame,
// an oversize payload or a sender outside the room is dropped and counted.
func (s *Server) roomMedia(cs *connState, body []byte) {
	sess := cs.session()
	if sess == nil {
		metricMediaDropped.Inc()
		return
	}
	roomID, payload, err := protocol.ParseRoomMedia(body)
	if err != nil || s.cfg.Limits.CheckMedia(payload) != nil {
		metricMediaDropped.Inc()
		return
	}
	members, in, err := s.rooms.Members(roomID, sess)
	if err != nil || !in {
		metricMediaDropped.Inc()
		return
	}
	var frame []byte
	for _, m := range members {
		if m == sess || m.remoteNode() != "" {
			continue
		}
		if frame == nil {
			frame = protocol.AppendRoomMediaPushFrame(nil, roomID, sess.userID, payload)
		}
		if !m.conn.c.WriteLossy(frame) {
			metricMediaDropped.Inc()
		} else {
			framesOut.get(protocol.OpRoomMediaPush).Inc()
		}
	}
	if s.croom != nil {
		if frame == nil {
			frame = protocol.AppendRoomMediaPushFrame(nil, roomID, sess.userID, payload)
		}
		s.croom.relay(roomID, members, frame, true)
	}
}
