package service

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
	"github.com/chatd/chatd/store/mysqltest"
)

// roomCluster starts nodes sharing one database and one bus with an
// announce threshold of 3 and join pages of 2, so a few users exercise
// section 16 across nodes.
type roomCluster struct {
	t         *testing.T
	url, name string
	be        backend
	deadAfter time.Duration
}

func newRoomCluster(t *testing.T, url string, deadAfter time.Duration) *roomCluster {
	t.Helper()
	mysqltest.Require(t)
	dsn := mysqltest.DSN(t, "clr")
	return &roomCluster{t: t, url: url, name: clustertest.Name(t, url), deadAfter: deadAfter,
		be: backend{name: "mysql", cfg: func(testing.TB) store.Config { return store.Config{Driver: "mysql", DSN: dsn} }}}
}

// add starts node id (again, after an Abandon: a restart).
func (rc *roomCluster) add(id string) *clusterEnv {
	rc.t.Helper()
	node := joinBus(rc.t, rc.url, rc.name, id, rc.deadAfter)
	rc.t.Cleanup(func() { node.Close() })
	e := newEnv(rc.t, rc.be, func(c *Config) {
		c.Cluster = node
		c.RoomAnnounceMax = 3
		c.Limits.RoomJoinMembers = 2
	})
	return &clusterEnv{env: e, node: node}
}

// roomEvent reads c's next push, a room.event of kind about who.
func roomEvent(t *testing.T, c *tclient, rid int64, kind string, who int64) {
	t.Helper()
	var ev protocol.RoomEventPush
	c.expect(protocol.OpRoomEvent, &ev)
	if ev.RoomID != rid || ev.Kind != kind || ev.UserID != who {
		t.Fatalf("want room.event %s of %d in %d, got %+v", kind, who, rid, ev)
	}
}

// roomSaid reads c's next push, a room.said from who.
func roomSaid(t *testing.T, c *tclient, rid, from int64, body string) {
	t.Helper()
	var p protocol.RoomSaidPush
	c.expect(protocol.OpRoomSaid, &p)
	if p.RoomID != rid || p.From != from || p.Body != body {
		t.Fatalf("want room.said %q from %d in %d, got %+v", body, from, rid, p)
	}
}

// roomMediaFrom reads c's next push, a room.media from who.
func roomMediaFrom(t *testing.T, c *tclient, rid, from int64, payload []byte) {
	t.Helper()
	f := c.expect(protocol.OpRoomMediaPush, nil)
	room, sender, got, err := protocol.ParseRoomMediaPush(f.body)
	if err != nil || room != rid || sender != from || !bytes.Equal(got, payload) {
		t.Fatalf("media push room %d from %d %q %v", room, sender, got, err)
	}
}

// A room created on node a is joined, paged, spoken in (chat and media,
// both ways), left and emptied from node b; events above the threshold
// become counts on both nodes; room ids never repeat across nodes; when
// node b is lost its members leave the room for a's members.
func TestClusterRooms(t *testing.T) {
	rc := newRoomCluster(t, clustertest.URL(t), time.Second)
	a, b := rc.add("a"), rc.add("b")
	u0, _ := clusterUser(a, "rm", "")
	u1, _ := clusterUser(b, "rm", "")
	u2, _ := clusterUser(a, "rm", "")
	u3, _ := clusterUser(b, "rm", "")
	u4, _ := clusterUser(b, "rm", "")

	var cr protocol.RoomCreateResp
	u0.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "standup"}, &cr)
	rid := cr.RoomID
	var other protocol.RoomCreateResp
	u4.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "elsewhere"}, &other)
	if other.RoomID == rid {
		t.Fatalf("rooms created on a and b share id %d", rid)
	}
	u4.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: other.RoomID}, nil)
	u0.must(protocol.CodeNotFound, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: other.RoomID}, nil)

	// Joined from b: the reply lists both, a's member hears of it.
	var jr protocol.RoomJoinResp
	u1.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, &jr)
	if jr.Room == nil || *jr.Room != (protocol.Room{RoomID: rid, Name: "standup", Owner: u0.userID, MemberCount: 2}) ||
		jr.More || !slices.Equal(roomIDs(jr.Members), slices.Sorted(slices.Values([]int64{u0.userID, u1.userID}))) {
		t.Fatalf("join from b: %+v", jr)
	}
	roomEvent(t, u0, rid, protocol.RoomJoined, u1.userID)
	u1.must(protocol.CodeAlreadyExists, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	u3.must(protocol.CodeForbidden, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "x"}, nil)

	// room.say and room.media both ways.
	u0.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "from a"}, nil)
	roomSaid(t, u1, rid, u0.userID, "from a")
	u1.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "from b"}, nil)
	roomSaid(t, u0, rid, u1.userID, "from b")
	u0.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, []byte("video-a")))
	roomMediaFrom(t, u1, rid, u0.userID, []byte("video-a"))
	u1.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, []byte("video-b")))
	roomMediaFrom(t, u0, rid, u1.userID, []byte("video-b"))
	u3.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, []byte("outsider")))
	u0.noPush()
	u1.noPush()

	// A third member on a: announced on both nodes; b pages a's members.
	u2.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, &jr)
	if jr.Room.MemberCount != 3 || !jr.More || len(jr.Members) != 2 {
		t.Fatalf("join of the third: %+v", jr)
	}
	roomEvent(t, u0, rid, protocol.RoomJoined, u2.userID)
	roomEvent(t, u1, rid, protocol.RoomJoined, u2.userID)
	want := slices.Sorted(slices.Values([]int64{u0.userID, u1.userID, u2.userID}))
	var mr protocol.RoomMembersResp
	u1.must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid, Limit: 2}, &mr)
	if !mr.More || !slices.Equal(roomIDs(mr.Members), want[:2]) {
		t.Fatalf("members page 1 on b: %+v, want %v", mr, want)
	}
	u1.must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid, AfterUserID: want[1], Limit: 2}, &mr)
	if mr.More || !slices.Equal(roomIDs(mr.Members), want[2:]) {
		t.Fatalf("members page 2 on b: %+v, want %v", mr, want)
	}
	u2.must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid}, &mr)
	if !slices.Equal(roomIDs(mr.Members), want) {
		t.Fatalf("members on a: %+v, want %v", mr, want)
	}
	u3.must(protocol.CodeForbidden, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid}, nil)

	// Above the threshold: count events on both nodes; back at it: left.
	u3.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, &jr)
	if jr.Room.MemberCount != 4 {
		t.Fatalf("join of the fourth: %+v", jr)
	}
	for _, c := range []*tclient{u0, u1, u2, u3} {
		awaitCount(t, c, rid, 4)
	}
	// Each frame crosses the bus once per node, not once per member.
	inA, inB := a.srv.croom.framesIn.Load(), b.srv.croom.framesIn.Load()
	u0.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "to four"}, nil)
	for _, c := range []*tclient{u1, u2, u3} {
		roomSaid(t, c, rid, u0.userID, "to four")
	}
	// (Media has a subject of its own: sent after the say has arrived.)
	u0.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, []byte("four")))
	for _, c := range []*tclient{u1, u2, u3} {
		roomMediaFrom(t, c, rid, u0.userID, []byte("four"))
	}
	u3.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "from b to four"}, nil)
	for _, c := range []*tclient{u0, u1, u2} {
		roomSaid(t, c, rid, u3.userID, "from b to four")
	}
	if d := b.srv.croom.framesIn.Load() - inB; d != 2 {
		t.Fatalf("node b received %d room frames for one say and one media to its two members, want 2", d)
	}
	if d := a.srv.croom.framesIn.Load() - inA; d != 1 {
		t.Fatalf("node a received %d room frames for one say to its two members, want 1", d)
	}
	u3.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	for _, c := range []*tclient{u0, u1, u2} {
		roomEvent(t, c, rid, protocol.RoomLeft, u3.userID)
	}

	// A leave on b is seen on a.
	u1.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	roomEvent(t, u0, rid, protocol.RoomLeft, u1.userID)
	roomEvent(t, u2, rid, protocol.RoomLeft, u1.userID)
	u0.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "after"}, nil)
	roomSaid(t, u2, rid, u0.userID, "after")
	u1.noPush()

	// Node b is lost: its member leaves the room for a's members.
	u4.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	roomEvent(t, u0, rid, protocol.RoomJoined, u4.userID)
	roomEvent(t, u2, rid, protocol.RoomJoined, u4.userID)
	b.node.Abandon()
	roomEvent(t, u0, rid, protocol.RoomLeft, u4.userID)
	roomEvent(t, u2, rid, protocol.RoomLeft, u4.userID)
	u0.must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid}, &mr)
	if !slices.Equal(roomIDs(mr.Members), slices.Sorted(slices.Values([]int64{u0.userID, u2.userID}))) {
		t.Fatalf("members after node loss: %+v", mr)
	}
}

// A node restarted with its id (before anyone declared it dead) removes
// the room members its previous run left on the other nodes, learns the
// rooms from a snapshot in several parts, and its new sessions can join
// the room again.
func TestClusterRoomsRestart(t *testing.T) {
	old := snapPart
	t.Cleanup(func() { snapPart = old })                     // last, after the servers stopped
	snapPart = 1                                             // one member per snapshot message
	rc := newRoomCluster(t, clustertest.URL(t), time.Minute) // never declared dead here
	a, b := rc.add("a"), rc.add("b")
	u0, _ := clusterUser(a, "rr", "")
	u2, _ := clusterUser(a, "rr", "")
	u1, u1Name := clusterUser(b, "rr", "")
	var cr protocol.RoomCreateResp
	u0.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{}, &cr)
	rid := cr.RoomID
	u2.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	roomEvent(t, u0, rid, protocol.RoomJoined, u2.userID)
	u1.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	roomEvent(t, u0, rid, protocol.RoomJoined, u1.userID)
	roomEvent(t, u2, rid, protocol.RoomJoined, u1.userID)

	b.node.Abandon() // as kill -9: nobody hears u1 leave
	b2 := rc.add("b")
	roomEvent(t, u0, rid, protocol.RoomLeft, u1.userID)
	roomEvent(t, u2, rid, protocol.RoomLeft, u1.userID)

	u1b, _ := b2.login(u1Name, "")
	var jr protocol.RoomJoinResp
	u1b.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, &jr)
	if jr.Room.MemberCount != 3 {
		t.Fatalf("join after restart: %+v", jr)
	}
	roomEvent(t, u0, rid, protocol.RoomJoined, u1.userID)
	roomEvent(t, u2, rid, protocol.RoomJoined, u1.userID)
	u1b.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "back"}, nil)
	roomSaid(t, u0, rid, u1.userID, "back")
}

// Room changes made while the bus is down reach the other node once it is
// back (the nodes exchange snapshots), and room traffic crosses again.
func TestClusterRoomsBusOutage(t *testing.T) {
	srv := clustertest.Embedded(t)
	rc := newRoomCluster(t, srv.URL(), time.Minute)
	a, b := rc.add("a"), rc.add("b")
	u0, _ := clusterUser(a, "ro", "")
	u1, _ := clusterUser(b, "ro", "")
	u3, _ := clusterUser(b, "ro", "")
	var cr protocol.RoomCreateResp
	u0.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{}, &cr)
	rid := cr.RoomID
	u1.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	roomEvent(t, u0, rid, protocol.RoomJoined, u1.userID)

	srv.Stop()
	eventually(t, "both nodes see the bus down", func() bool {
		return a.srv.BusCheck(context.Background()) != nil && b.srv.BusCheck(context.Background()) != nil
	})
	u1.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	u3.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	u0.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "alone"}, nil)

	srv.Start()
	// From the buffered changes or the snapshots, whichever came first.
	var got []protocol.RoomEventPush
	for range 2 {
		var ev protocol.RoomEventPush
		u0.expect(protocol.OpRoomEvent, &ev)
		got = append(got, ev)
	}
	left := protocol.RoomEventPush{RoomID: rid, Kind: protocol.RoomLeft, UserID: u1.userID}
	joined := protocol.RoomEventPush{RoomID: rid, Kind: protocol.RoomJoined, UserID: u3.userID}
	if !slices.Contains(got, left) || !slices.Contains(got, joined) {
		t.Fatalf("events after the outage %+v, want %+v and %+v", got, left, joined)
	}
	u0.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "back"}, nil)
	u3.waitFor(protocol.OpRoomSaid, nil) // "alone" may have been buffered and delivered
	var mr protocol.RoomMembersResp
	u3.must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid}, &mr)
	if !slices.Equal(roomIDs(mr.Members), slices.Sorted(slices.Values([]int64{u0.userID, u3.userID}))) {
		t.Fatalf("members on b after the outage: %+v", mr)
	}
}

// A connection that closes while its room.join is running leaves no member
// behind, on its node or the others: the join either lands before the
// close takes the connection's rooms, or is undone.
func TestClusterRoomsJoinRacingClose(t *testing.T) {
	rc := newRoomCluster(t, clustertest.URL(t), time.Minute)
	a, b := rc.add("a"), rc.add("b")
	u0, _ := clusterUser(a, "rj", "")
	u1, u1Name := clusterUser(b, "rj", "")
	var cr protocol.RoomCreateResp
	u0.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{}, &cr)
	rid := cr.RoomID
	u1.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	for i := range 40 {
		c, _ := b.login(u1Name, fmt.Sprint("d", i))
		c.send(protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid})
		if i%2 == 1 {
			time.Sleep(time.Duration(i%7) * 100 * time.Microsecond) // vary where the close lands
		}
		c.nc.Close()
	}
	// Only u0's and u1's own sessions stay: the room counts two users and,
	// once u1 leaves, one.
	u1.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	for _, n := range []*clusterEnv{a, b} {
		eventually(t, "node "+n.node.ID()+" has only u0 in the room", func() bool {
			members, _, err := n.srv.croom.mem.Members(rid, nil)
			return err == nil && len(members) == 1 && members[0].userID == u0.userID
		})
	}
}
