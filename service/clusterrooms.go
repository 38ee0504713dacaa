package service

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chatd/chatd/protocol"
)

// Rooms across nodes (sections 10, 16 and 19). Every node keeps every room
// in its memRooms: its own sessions as they are, and the members on other
// nodes as stand-in Sessions without a connection (remote set to their
// node, "ghosts"). A node is the authority for its own sessions: it tells
// every other node of each join and leave of one of them (busRoom, on the
// node subjects, so they keep their order with the room frames it sends
// after them), and each node applies it to its copy and announces it to
// its own members exactly as a local change (joined/left up to the
// threshold, its own coalesced count events above it). Paging reads the
// local copy. room.say and room.media cross the bus once per node that has
// members of the room (busRoomFrame), and that node writes them to its
// members with one batched write; media goes through the lossy queue and
// subject, so a slow bus or node drops media, never chat.
//
// Keeping copies right: room ids come from a cluster-wide counter, so a
// room created on two nodes at once gets two ids. A join names the room's
// name and owner, so a node that has not heard of the room (or dropped it
// when its last member left while the join was in flight) creates it. A
// node that starts, or whose bus comes back, sends the others a snapshot
// of its members (none, after a restart) and asks for theirs; a snapshot
// replaces what the receiver holds of the sender's members, announcing
// the difference. So a restart removes its previous run's members, and a
// node declared dead (NodeObserver.OnNodeDead, on every node) has its
// members removed, with left/count events to the rest.

// Bus envelope kinds of rooms.
const (
	busRoom      byte = 'r' // a membership change or snapshot (JSON roomWire after the header)
	busRoomFrame byte = 'm' // a room frame for a room's local members: room_id (uint64 BE) + frame
)

// roomWire is the payload of a busRoom envelope.
type roomWire struct {
	Op string `json:"op"` // "join", "leave", "snap"
	roomWireMember
	// Snap lists the sender's members of every room (op snap), in parts
	// of at most snapPart: More says another part follows. Reply, on the
	// last part, asks the receiver for its own.
	Snap  []roomWireMember `json:"snap,omitempty"`
	More  bool             `json:"more,omitempty"`
	Reply bool             `json:"reply,omitempty"`
}

// snapPart is how many members one snapshot message carries at most:
// NATS refuses a message above its max_payload (1 MiB by default). A
// variable for tests.
var snapPart = 1000

// roomWireMember is one session of the sending node in one room.
type roomWireMember struct {
	Room    int64            `json:"room,omitempty"`
	Name    string           `json:"name,omitempty"`
	Owner   int64            `json:"owner,omitempty"`
	Conn    uint64           `json:"conn,omitempty"`
	Profile protocol.Profile `json:"p"`
}

type ghostKey struct {
	node string
	conn uint64
}

// ghost is a session on another node that is in rooms here.
type ghost struct {
	sess  *Session
	rooms map[int64]struct{}
}

// clusterRooms replicates room membership between the nodes.
type clusterRooms struct {
	s   *Server
	mem *memRooms

	// sendMu orders "change a local membership, then publish it" against
	// "take a snapshot for a new peer, then publish it", so a peer never
	// gets a snapshot older than a change it was not sent.
	sendMu sync.Mutex
	peers  map[string]struct{} // nodes that asked for a snapshot (heartbeat maybe not seen yet)

	mu     sync.Mutex // ghosts and what applying changes to them pushes
	ghosts map[ghostKey]*ghost
	parts  map[string][]roomWireMember // snapshot parts received so far, per node

	frameHead []byte // busRoomFrame envelope header of this node
	// framesIn counts the room frames received from other nodes (tests:
	// one per node and frame, whatever the number of members).
	framesIn atomic.Int64
}

func newClusterRooms(s *Server, mem *memRooms) *clusterRooms {
	return &clusterRooms{s: s, mem: mem, peers: map[string]struct{}{}, ghosts: map[ghostKey]*ghost{}, parts: map[string][]roomWireMember{},
		frameHead: encodeBus(busRoomFrame, &busHeader{From: s.node.ID()}, nil)}
}

// targetsLocked lists the other nodes that keep copies; sendMu held.
func (c *clusterRooms) targetsLocked() []string {
	self := c.s.node.ID()
	var out []string
	for _, id := range c.s.node.LiveNodes() {
		if id != self {
			out = append(out, id)
		}
	}
	for id := range c.peers {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (c *clusterRooms) envelope(w *roomWire) []byte {
	b, _ := json.Marshal(w)
	return encodeBus(busRoom, &busHeader{From: c.s.node.ID()}, b)
}

func wireMember(rm protocol.Room, sess *Session) roomWireMember {
	return roomWireMember{Room: rm.RoomID, Name: rm.Name, Owner: rm.Owner, Conn: sess.conn.id, Profile: sess.Profile()}
}

// create makes a room with a cluster-wide id (rooms created on two nodes
// never share one) and sess in it; the caller then publishes the join.
func (c *clusterRooms) create(name string, sess *Session) (protocol.Room, error) {
	id, err := c.s.node.NextID(c.s.ctx, "rooms")
	if err != nil {
		return protocol.Room{}, protocol.NewError(protocol.CodeUnavailable, "cannot create a room now: the cluster bus is unavailable")
	}
	ch, err := c.mem.joinOrCreate(id, name, sess.userID, sess)
	if err != nil {
		return protocol.Room{}, roomErr(err)
	}
	return ch.Room, nil
}

// joined tells the other nodes that sess (of this node) is in room rm now,
// and waits until they have it, so a room.say sent through any node after
// the reply reaches sess.
func (c *clusterRooms) joined(ctx context.Context, rm protocol.Room, sess *Session) {
	env := c.envelope(&roomWire{Op: "join", roomWireMember: wireMember(rm, sess)})
	c.sendMu.Lock()
	if sess.conn.closed.Load() {
		// Its close may have published the leave already (under sendMu,
		// after setting closed): a join published now would outlive it.
		c.sendMu.Unlock()
		return
	}
	c.publishAckedUnlock(ctx, env, rm.RoomID, "join")
}

// publishAckedUnlock publishes env to the other nodes, releases sendMu
// (held by the caller: the publish keeps its order with the others), and
// waits until they have handled it.
func (c *clusterRooms) publishAckedUnlock(ctx context.Context, env []byte, room int64, what string) {
	acks, err := c.s.node.PublishAcked(c.targetsLocked(), env)
	c.sendMu.Unlock()
	if err == nil {
		err = acks.Wait(ctx)
	}
	if err != nil {
		c.s.log.Warn().Int64("room", room).Err(err).Msg("bus: room " + what + " not confirmed by every node")
	}
}

// left tells the other nodes that sess left room id. With wait it waits
// until they have it, so a room emptied by a room.leave is gone on every
// node when the reply goes out; without, it only publishes, so a closing
// connection's loop may call it.
func (c *clusterRooms) left(ctx context.Context, id int64, sess *Session, wait bool) {
	env := c.envelope(&roomWire{Op: "leave", roomWireMember: roomWireMember{Room: id, Conn: sess.conn.id,
		Profile: protocol.Profile{UserID: sess.userID}}})
	c.sendMu.Lock()
	if !wait {
		for _, n := range c.targetsLocked() {
			c.send(n, env)
		}
		c.sendMu.Unlock()
		return
	}
	c.publishAckedUnlock(ctx, env, id, "leave")
}

func (c *clusterRooms) send(node string, env []byte) {
	if err := c.s.node.Send(node, env); err != nil {
		metricBusDropped.Inc()
		c.s.log.Debug().Str("to_node", node).Err(err).Msg("bus send failed")
		return
	}
	metricBusSent.Inc()
}

// snapshot lists this node's sessions in rooms.
func (c *clusterRooms) snapshot() []roomWireMember {
	var out []roomWireMember
	c.mem.rooms.Range(func(_, v any) bool {
		rm := v.(*room)
		rm.mu.Lock()
		info := rm.info()
		rm.mu.Unlock()
		for _, m := range *rm.members.Load() {
			if m.remoteNode() == "" {
				out = append(out, wireMember(info, m))
			}
		}
		return true
	})
	return out
}

// snapEnvelopes encodes this node's snapshot as messages of at most
// snapPart members; the last one carries reply.
func (c *clusterRooms) snapEnvelopes(reply bool) [][]byte {
	snap := c.snapshot()
	var out [][]byte
	for len(snap) > snapPart {
		out = append(out, c.envelope(&roomWire{Op: "snap", Snap: snap[:snapPart], More: true}))
		snap = snap[snapPart:]
	}
	return append(out, c.envelope(&roomWire{Op: "snap", Snap: snap, Reply: reply}))
}

// hello sends every other node this node's members and asks for theirs:
// at start (none: whatever a previous run left is removed) and when the
// bus comes back (changes sent meanwhile may be lost). It returns once the
// answers are applied, so a node does not serve joins before it knows the
// rooms: each node answers with its snapshot on this node's subject before
// it acknowledges, and a message this node then sends itself on that
// subject is handled after the snapshots.
func (c *clusterRooms) hello(ctx context.Context) {
	c.sendMu.Lock()
	envs := c.snapEnvelopes(true)
	targets := c.targetsLocked()
	for _, env := range envs[:len(envs)-1] {
		for _, n := range targets {
			c.send(n, env)
		}
	}
	acks, err := c.s.node.PublishAcked(targets, envs[len(envs)-1])
	c.sendMu.Unlock()
	if err == nil {
		err = acks.Wait(ctx)
	}
	if err == nil {
		acks, err = c.s.node.PublishAcked([]string{c.s.node.ID()}, c.envelope(&roomWire{Op: "sync"}))
		if err == nil {
			err = acks.Wait(ctx)
		}
	}
	if err != nil {
		c.s.log.Warn().Err(err).Msg("bus: room snapshots not exchanged with every node")
	}
}

// relay sends a room frame once to each other node with members of room
// id among members; media through the lossy queue.
func (c *clusterRooms) relay(id int64, members []*Session, frame []byte, lossy bool) {
	var nodes []string
	for _, m := range members {
		if node := m.remoteNode(); node != "" && !slices.Contains(nodes, node) {
			nodes = append(nodes, node)
		}
	}
	if len(nodes) == 0 {
		return
	}
	env := make([]byte, 0, len(c.frameHead)+8+len(frame))
	env = append(env, c.frameHead...)
	env = binary.BigEndian.AppendUint64(env, uint64(id))
	env = append(env, frame...)
	for _, n := range nodes {
		if !lossy {
			c.send(n, env)
		} else if c.s.node.SendLossy(n, env) {
			metricBusSent.Inc()
		} else {
			metricMediaDropped.Inc()
		}
	}
}

// onFrame writes a room frame from another node to this node's members.
func (c *clusterRooms) onFrame(payload []byte) {
	if len(payload) < 8+protocol.HeaderSize {
		return
	}
	c.framesIn.Add(1)
	id := int64(binary.BigEndian.Uint64(payload))
	frame := payload[8:]
	op := protocol.Op(binary.BigEndian.Uint16(frame[4:6]))
	members, _, err := c.mem.Members(id, nil)
	if err != nil {
		return
	}
	if op != protocol.OpRoomMediaPush {
		pushToSessions(members, nil, outFrame{op: op, b: frame})
		return
	}
	for _, m := range members {
		if m.remoteNode() != "" {
			continue
		}
		if !m.conn.c.WriteLossy(frame) {
			metricMediaDropped.Inc()
		} else {
			framesOut.get(protocol.OpRoomMediaPush).Inc()
		}
	}
}

// onMessage applies a membership change or snapshot from node from.
func (c *clusterRooms) onMessage(from string, payload []byte) {
	var w roomWire
	if err := json.Unmarshal(payload, &w); err != nil {
		c.s.log.Warn().Str("from_node", from).Err(err).Msg("bus: undecodable room change")
		return
	}
	switch w.Op {
	case "join":
		c.mu.Lock()
		c.ghostJoin(from, w.roomWireMember)
		c.mu.Unlock()
	case "leave":
		c.mu.Lock()
		c.ghostLeave(ghostKey{from, w.Conn}, w.Room)
		c.mu.Unlock()
	case "snap":
		c.mu.Lock()
		snap := append(c.parts[from], w.Snap...)
		if w.More {
			c.parts[from] = snap
			c.mu.Unlock()
			return
		}
		delete(c.parts, from)
		c.mu.Unlock()
		c.applySnapshot(from, snap)
		if w.Reply {
			c.sendMu.Lock()
			c.peers[from] = struct{}{}
			for _, env := range c.snapEnvelopes(false) {
				c.send(from, env)
			}
			c.sendMu.Unlock()
		}
	}
}

// ghostJoin adds a session of node to a room, creating the room when this
// node does not know it, and announces it; mu held.
func (c *clusterRooms) ghostJoin(node string, m roomWireMember) {
	k := ghostKey{node, m.Conn}
	g := c.ghosts[k]
	if g == nil {
		sess := &Session{userID: m.Profile.UserID, cluster: &clusterSession{remote: node}}
		p := m.Profile
		sess.profile.Store(&p)
		g = &ghost{sess: sess, rooms: map[int64]struct{}{}}
		c.ghosts[k] = g
	}
	if _, in := g.rooms[m.Room]; in {
		return
	}
	ch, err := c.mem.joinOrCreate(m.Room, m.Name, m.Owner, g.sess)
	if err != nil {
		return
	}
	g.rooms[m.Room] = struct{}{}
	if ch.Announce {
		pushToSessions(ch.Members, nil, encodePush(protocol.OpRoomEvent,
			&protocol.RoomEventPush{RoomID: m.Room, Kind: protocol.RoomJoined, UserID: g.sess.userID}))
	}
}

// ghostLeave removes a session of another node from a room and announces
// it; mu held.
func (c *clusterRooms) ghostLeave(k ghostKey, id int64) {
	g := c.ghosts[k]
	if g == nil {
		return
	}
	if _, in := g.rooms[id]; !in {
		return
	}
	delete(g.rooms, id)
	if len(g.rooms) == 0 {
		delete(c.ghosts, k)
	}
	ch, err := c.mem.Leave(id, g.sess)
	if err == nil && ch.Announce {
		pushToSessions(ch.Members, nil, encodePush(protocol.OpRoomEvent,
			&protocol.RoomEventPush{RoomID: id, Kind: protocol.RoomLeft, UserID: g.sess.userID}))
	}
}

// applySnapshot makes this node's copy of node's members what snap says.
func (c *clusterRooms) applySnapshot(node string, snap []roomWireMember) {
	want := map[ghostKey]map[int64]struct{}{}
	for _, m := range snap {
		k := ghostKey{node, m.Conn}
		if want[k] == nil {
			want[k] = map[int64]struct{}{}
		}
		want[k][m.Room] = struct{}{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, g := range c.ghosts {
		if k.node != node {
			continue
		}
		for id := range g.rooms {
			if _, keep := want[k][id]; !keep {
				c.ghostLeave(k, id)
			}
		}
	}
	for _, m := range snap {
		c.ghostJoin(node, m)
	}
}

// dropNode removes every member of a dead node.
func (c *clusterRooms) dropNode(node string) {
	c.sendMu.Lock()
	delete(c.peers, node)
	c.sendMu.Unlock()
	c.mu.Lock()
	delete(c.parts, node)
	c.mu.Unlock()
	c.applySnapshot(node, nil)
}

// OnNodeDead implements cluster.NodeObserver: the dead node's room
// members leave their rooms.
func (h clusterHandler) OnNodeDead(node string) {
	if c := h.s.croom; c != nil {
		c.dropNode(node)
	}
}

// OnBusBack implements cluster.NodeObserver: room changes sent while the
// bus was away may be lost, so the nodes exchange snapshots again.
func (h clusterHandler) OnBusBack() {
	if c := h.s.croom; c != nil {
		c.hello(h.s.ctx)
	}
}

// onRoomBus handles the room envelopes of the bus.
func (s *Server) onRoomBus(kind byte, from string, payload []byte) {
	c := s.croom
	if c == nil {
		return
	}
	if kind == busRoomFrame {
		c.onFrame(payload)
		return
	}
	c.onMessage(from, payload)
}
