package service

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/protocol"
)

// Several nodes as one (section 19). Every push leaves through pushUsers,
// which writes to this node's sessions and, in a cluster, sends the frame
// once to every other node where one of the receivers has a session; that
// node writes it to its own sessions of the same receivers. Presence, kicks
// and the per-node caches (friend sets, group members) travel the same bus.

// Bus envelope kinds: one byte, then a uvarint length and a JSON header,
// then (for pushes) the encoded frame.
const (
	busPush   byte = 'p' // a frame for the local sessions of some users
	busKick   byte = 'k' // end a local session
	busFriend byte = 'f' // a friendship changed: friend-set caches
	busGroup  byte = 'g' // a group's members changed: the members cache
	// busEnforce: an account changed in the store (disabled, deleted,
	// tokens revoked): end the local sessions the store no longer allows.
	busEnforce byte = 'e'
	// busLoginFail: a failed login on the sending node, counted by the
	// failed-login limiters of every node (accounts.go).
	busLoginFail byte = 'l'
	// busProfile: a user changed their profile; the frame is the profile
	// JSON, for the user's sessions here (what they send as `from`).
	busProfile byte = 'o'
)

// busHeader is the JSON header of an envelope; the fields used depend on
// the kind.
type busHeader struct {
	From   string  `json:"n"`           // sending node
	Users  []int64 `json:"u,omitempty"` // push: receivers
	Conv   string  `json:"c,omitempty"` // push: conversation of a msg push
	Seq    int64   `json:"s,omitempty"` // push: its seq
	User   int64   `json:"user,omitempty"`
	Conn   uint64  `json:"conn,omitempty"`   // kick: the session's connection
	Reason string  `json:"reason,omitempty"` // kick
	Addr   string  `json:"addr,omitempty"`   // kick
	Quiet  bool    `json:"quiet,omitempty"`  // kick: the user stays online elsewhere
	Peer   int64   `json:"peer,omitempty"`   // friend
	On     bool    `json:"on,omitempty"`     // friend
	Group  int64   `json:"group,omitempty"`  // group
	Name   string  `json:"name,omitempty"`   // login failure: the username key (Addr: the address)
}

func encodeBus(kind byte, h *busHeader, frame []byte) []byte {
	hb, _ := json.Marshal(h)
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(hb)+len(frame))
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(hb)))
	b = append(b, hb...)
	return append(b, frame...)
}

func decodeBus(data []byte) (byte, *busHeader, []byte, error) {
	if len(data) < 2 {
		return 0, nil, nil, errors.New("short envelope")
	}
	n, w := binary.Uvarint(data[1:])
	if w <= 0 || uint64(len(data)-1-w) < n {
		return 0, nil, nil, errors.New("bad envelope header length")
	}
	var h busHeader
	if err := json.Unmarshal(data[1+w:1+w+int(n)], &h); err != nil {
		return 0, nil, nil, err
	}
	return data[0], &h, data[1+w+int(n):], nil
}

// pushUsers is the one place a push leaves: the frame goes to every
// session of every user in users on this node except skip and, in a
// cluster, once to each other node where any of them has a session. conv
// and seq name a msg push ("" and 0 otherwise). It returns how many local
// sessions got it and whether any remote node was sent it.
func (s *Server) pushUsers(users []int64, frame outFrame, conv string, seq int64, skip *connState) (int, bool) {
	if s.node == nil {
		return s.pushLocal(users, frame, conv, seq, skip), false
	}
	n := 0
	if seq != 0 {
		// Released in seq order with the other nodes' pushes of conv
		// (reorder.go), and counted there.
		s.gate.offer(conv, seq, gatePush{users: users, frame: frame, skip: skip})
	} else {
		n = s.pushLocal(users, frame, conv, seq, skip)
	}
	var buf [8]string
	nodes := s.node.Nodes(buf[:0], users...)
	if len(nodes) == 0 {
		return n, false
	}
	env := encodeBus(busPush, &busHeader{From: s.node.ID(), Users: users, Conv: conv, Seq: seq}, frame.b)
	for _, id := range nodes {
		if err := s.node.Send(id, env); err != nil {
			metricBusDropped.Inc()
			s.log.Debug().Str("to_node", id).Err(err).Msg("bus send failed")
		}
	}
	metricBusSent.Add(float64(len(nodes)))
	return n, true
}

// pushLocal writes frame to this node's sessions of users, except skip.
// In a cluster a msg push (seq not 0) skips the sessions that have its seq
// already (Session.admit), and skip's session notes it has it.
func (s *Server) pushLocal(users []int64, frame outFrame, conv string, seq int64, skip *connState) int {
	var f fanout
	f.reset(frame)
	n := 0
	gated := seq != 0 && s.node != nil
	for _, uid := range users {
		for _, sess := range s.router.Sessions(uid) {
			if sess.conn == skip {
				if gated {
					sess.admit(conv, seq)
				}
				continue
			}
			if gated && !sess.admit(conv, seq) {
				continue
			}
			f.add(sess, conv, seq)
			n++
		}
	}
	f.flush()
	return n
}

// clusterHandler receives what other nodes send.
type clusterHandler struct{ s *Server }

// OnMessage implements cluster.Handler.
func (h clusterHandler) OnMessage(data []byte) {
	s := h.s
	kind, hd, frame, err := decodeBus(data)
	if err != nil {
		s.log.Warn().Err(err).Msg("bus: undecodable envelope")
		return
	}
	if hd.From == s.node.ID() {
		return // our own broadcast: already applied
	}
	metricBusReceived.Inc()
	switch kind {
	case busPush:
		if len(frame) < protocol.HeaderSize {
			return
		}
		op := protocol.Op(binary.BigEndian.Uint16(frame[4:6]))
		if hd.Seq != 0 {
			s.gate.offer(hd.Conv, hd.Seq, gatePush{users: hd.Users, frame: outFrame{op: op, b: frame}})
		} else {
			s.pushLocal(hd.Users, outFrame{op: op, b: frame}, "", 0, nil)
		}
	case busKick:
		for _, sess := range s.router.Sessions(hd.User) {
			if sess.conn.id != hd.Conn {
				continue
			}
			s.log.Info().Int64("user", sess.userID).Str("device", sess.device).Uint64("conn", sess.conn.id).
				Str("reason", hd.Reason).Str("by_node", hd.From).Msg("kicked from another node")
			sess.conn.write(encodePush(protocol.OpKicked, &protocol.KickedPush{Reason: hd.Reason, Addr: hd.Addr}))
			s.endSessionOpt(sess, false, hd.Quiet)
			sess.conn.closeNow("kicked: " + hd.Reason)
		}
	case busFriend:
		s.friendCachesChanged(hd.User, hd.Peer, hd.On)
	case busGroup:
		s.groups.invalidate(hd.Group)
	case busProfile:
		var p protocol.Profile
		if err := json.Unmarshal(frame, &p); err != nil {
			s.log.Warn().Err(err).Msg("bus: undecodable profile")
			return
		}
		s.storeOwnProfile(hd.User, p)
	case busLoginFail:
		s.countLoginFailure(hd.Name, hd.Addr)
	case busEnforce:
		// Read the store only when there is a session to judge: the
		// broadcast waits for this handler.
		if len(s.router.Sessions(hd.User)) == 0 {
			return
		}
		if _, err := s.enforceLocal(s.ctx, hd.User); err != nil {
			s.log.Warn().Int64("user", hd.User).Str("by_node", hd.From).Err(err).Msg("bus: account not enforced")
		}
	case busRoom, busRoomFrame: // clusterrooms.go
		s.onRoomBus(kind, hd.From, frame)
	}
}

// OnNodeGone implements cluster.Handler: the friends of the users who had
// sessions on a dead node learn who is offline now.
func (h clusterHandler) OnNodeGone(node string, users []int64) {
	s := h.s
	go func() {
		for _, u := range users {
			if s.ctx.Err() != nil {
				return
			}
			if s.router.Online(u) {
				continue
			}
			friends, err := s.store.Friends(s.ctx, u, maxFriends)
			if err != nil {
				s.log.Warn().Int64("user", u).Str("dead_node", node).Err(err).Msg("presence after node loss: friends")
				continue
			}
			s.pushPresence(u, friendIDs(friends))
		}
	}()
}

// OnOwnSession implements cluster.Handler: a presence notice held back
// by clusterRouter goes out when the directory shows this node's session
// to be the user's first or last anywhere.
func (h clusterHandler) OnOwnSession(user int64, conn uint64, put, edge bool) {
	s := h.s
	r, ok := s.router.(clusterRouter)
	if !ok || !r.held.settle(user, put, edge) {
		return
	}
	s.async(conn, "presence", func() {
		friends, err := s.store.Friends(s.ctx, user, maxFriends)
		if err != nil {
			s.log.Warn().Int64("user", user).Err(err).Msg("presence: friends")
			return
		}
		s.pushPresence(user, friendIDs(friends))
	})
}

// kickRemote ends sess (a session on another node) with reason.
func (s *Server) kickRemote(user int64, si cluster.SessionInfo, reason, addr string, quiet bool) {
	env := encodeBus(busKick, &busHeader{From: s.node.ID(), User: user, Conn: si.Conn, Reason: reason, Addr: addr, Quiet: quiet}, nil)
	if err := s.node.Send(si.Node, env); err != nil {
		s.log.Warn().Str("to_node", si.Node).Err(err).Msg("bus: kick not sent")
	}
}

// announceWait bounds how long a login waits for the other nodes to see
// its session: a node that has not answered by then is most likely dead,
// and a message it stores meanwhile still reaches the session through the
// reorder gate or msg.sync.
const announceWait = 500 * time.Millisecond

// announce waits until every other live node knows sess is here
// (cluster.Node.Announce); nothing outside a cluster.
func (s *Server) announce(ctx context.Context, sess *Session) {
	if s.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, announceWait)
	defer cancel()
	if err := s.node.Announce(ctx, sess.userID, sess.conn.id); err != nil {
		metricAnnounceLate.Inc()
		s.log.Warn().Int64("user", sess.userID).Uint64("conn", sess.conn.id).Err(err).Msg("bus: session not yet known to every node")
	}
}

// remoteSessions returns user's sessions on other nodes (none alone).
func (s *Server) remoteSessions(user int64) []cluster.SessionInfo {
	if s.node == nil {
		return nil
	}
	return s.node.Sessions(user)
}

// broadcast sends a cache change to every node and waits until the live
// ones applied it, so a request answered after it sees the change on any
// node. Failures are logged: the change is in the store either way.
func (s *Server) broadcast(ctx context.Context, kind byte, h *busHeader) {
	if s.node == nil {
		return
	}
	h.From = s.node.ID()
	if err := s.node.Broadcast(ctx, encodeBus(kind, h, nil)); err != nil {
		s.log.Warn().Err(err).Msg("bus: cache change not confirmed by every node")
	}
}

// clusterRouter is the Router of a node in a cluster: the local router for
// this node's sessions, the directory for everyone else's. A user is online
// while a session exists anywhere.
//
// Who says so to friends: a node's replica of the directory lags the other
// nodes by milliseconds, so two nodes deciding from their replicas could
// both announce a user online (two logins at once) or neither announce
// offline (two sessions ending at once). While the bus is up, a node
// therefore only holds the notice when a user's first local session starts
// or last local one ends, and sends it when the directory, whose order is
// the same on every node, shows this node's put or delete to be the user's
// first or last session anywhere (clusterHandler.OnOwnSession): exactly one
// node sees that edge. While the bus is down, the node decides alone.
type clusterRouter struct {
	Router
	node *cluster.Node
	held *heldPresence
}

// heldPresence lists the users whose online or offline notice waits for
// the directory's verdict on this node.
type heldPresence struct {
	mu      sync.Mutex
	online  map[int64]bool
	offline map[int64]bool
}

func newHeldPresence() *heldPresence {
	return &heldPresence{online: map[int64]bool{}, offline: map[int64]bool{}}
}

func (h *heldPresence) hold(user int64, online bool) {
	h.mu.Lock()
	if online {
		h.online[user] = true
	} else {
		h.offline[user] = true
	}
	h.mu.Unlock()
}

// settle applies the directory's news of one of this node's puts (online)
// or deletes of user's sessions, and reports whether a held notice is due.
// A put that is not the user's first anywhere means it was online already:
// its held online notice is dropped. A delete that is not the last keeps
// the offline notice: this node's writes reach the directory in any order,
// so its last local session's delete may come before an earlier one's.
func (h *heldPresence) settle(user int64, online, edge bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case online && !edge:
		delete(h.online, user)
		return false
	case !edge:
		return false
	case online:
		delete(h.offline, user) // online again: an older offline notice is moot
		due := h.online[user]
		delete(h.online, user)
		return due
	default:
		due := h.offline[user]
		delete(h.offline, user)
		return due
	}
}

// Attach implements Router.
func (r clusterRouter) Attach(s *Session) (*Session, bool) {
	replaced, first := r.Router.Attach(s)
	if replaced != nil {
		r.node.DeleteSession(replaced.userID, replaced.conn.id)
	}
	if first && r.node.Up() {
		r.held.hold(s.userID, true) // before the put can come back
		first = false
	} else {
		first = first && !r.node.Online(s.userID)
	}
	r.node.PutSession(s.userID, cluster.SessionInfo{Conn: s.conn.id, Device: s.device, Addr: s.conn.remote, Since: s.since})
	return replaced, first
}

// Detach implements Router.
func (r clusterRouter) Detach(s *Session) (bool, bool) {
	removed, last := r.Router.Detach(s)
	if !removed {
		return false, false
	}
	if last && r.node.Up() {
		r.held.hold(s.userID, false)
		last = false
	} else {
		last = last && !r.node.Online(s.userID)
	}
	r.node.DeleteSession(s.userID, s.conn.id)
	return true, last
}

// Online implements Router.
func (r clusterRouter) Online(userID int64) bool {
	return r.Router.Online(userID) || r.node.Online(userID)
}

// BusCheck is the readiness check of the bus: nil outside a cluster.
func (s *Server) BusCheck(ctx context.Context) error {
	if s.node == nil {
		return nil
	}
	return s.node.Check(ctx)
}
