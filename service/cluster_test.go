package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
	"github.com/chatd/chatd/store/mysqltest"
)

// Clusters of two nodes in this process: two Servers on one fresh MySQL
// database, joined by a NATS bus (embedded, or CHATD_TEST_NATS_URL's).

// clusterEnv is one node: its server env and its bus membership.
type clusterEnv struct {
	*env
	node *cluster.Node
}

// newCluster starts len(ids) nodes sharing one database and one bus.
func newCluster(t *testing.T, url string, ids ...string) []*clusterEnv {
	t.Helper()
	return newClusterWith(t, url, func(*Config) {}, ids...)
}

// newClusterWith is newCluster with a configuration tweak on every node.
func newClusterWith(t *testing.T, url string, tweak func(*Config), ids ...string) []*clusterEnv {
	t.Helper()
	mysqltest.Require(t)
	dsn := mysqltest.DSN(t, "clu")
	be := backend{name: "mysql", cfg: func(testing.TB) store.Config { return store.Config{Driver: "mysql", DSN: dsn} },
		bus: &busSpec{url: url, name: clustertest.Name(t, url), ids: ids}}
	e := newEnv(t, be, tweak)
	out := []*clusterEnv{{env: e, node: e.node}}
	for _, p := range e.peers {
		out = append(out, &clusterEnv{env: p, node: p.node})
	}
	return out
}

// eventually waits, generously, until cond holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seesOnline waits until every node's directory has each user online.
func seesOnline(t testing.TB, nodes []*clusterEnv, users ...int64) {
	t.Helper()
	for _, n := range nodes {
		for _, u := range users {
			eventually(t, fmt.Sprintf("node %s sees user %d", n.node.ID(), u), func() bool { return n.srv.router.Online(u) })
		}
	}
}

// clusterUser registers a fresh user and logs it in on node n.
func clusterUser(n *clusterEnv, prefix, device string) (*tclient, string) {
	name := uniqueName(prefix)
	n.register(name)
	c, _ := n.login(name, device)
	return c, name
}

// A 1:1 conversation between users on different nodes: every message is
// pushed exactly once, in seq order, both ways; typing and read receipts
// cross too; the sender's other device on the receiver's node gets its
// own messages.
func TestClusterPrivateMessages(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	ua, uaName := clusterUser(a, "ca", "pc")
	ub, _ := clusterUser(b, "cb", "")
	seesOnline(t, ns, ua.userID, ub.userID)
	befriend(t, ua, ub)
	ua2, lr := b.login(uaName, "phone") // ua's second device, on b
	seesOnline(t, ns, ua2.userID)
	if !slices.Contains(lr.Server.Features, protocol.FeatureCluster) {
		t.Fatalf("features %v lack cluster", lr.Server.Features)
	}

	const n = 60
	conv := ""
	for i := 1; i <= n; i++ {
		var r protocol.MsgSendResp
		ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: fmt.Sprint("m", i), ClientMsgID: fmt.Sprint("c", i)}, &r)
		conv = r.Conv
	}
	for _, c := range []*tclient{ub, ua2} {
		for i := 1; i <= n; i++ {
			var p protocol.MsgPush
			c.waitFor(protocol.OpMsgPush, &p)
			if p.Message.Seq != int64(i) || p.Message.Body != fmt.Sprint("m", i) {
				t.Fatalf("push %d = seq %d %q", i, p.Message.Seq, p.Message.Body)
			}
		}
	}
	// A repeated client_msg_id delivers nothing again.
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: "m1", ClientMsgID: "c1"}, nil)
	ub.noPush()
	ua2.noPush()

	// The other way, plus typing and a read receipt.
	ub.must(protocol.CodeOK, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: conv}, nil)
	var tp protocol.TypingPush
	ua.expect(protocol.OpTyping, &tp)
	if tp.UserID != ub.userID || tp.Conv != conv {
		t.Fatalf("typing push %+v", tp)
	}
	ub.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ua.userID, Body: "back", ClientMsgID: "b1"}, nil)
	var p protocol.MsgPush
	ua.waitFor(protocol.OpMsgPush, &p)
	if p.Message.Seq != n+1 || p.Message.Body != "back" {
		t.Fatalf("reply push seq %d %q", p.Message.Seq, p.Message.Body)
	}
	ub.must(protocol.CodeOK, protocol.OpMsgRead, &protocol.MsgReadReq{Conv: conv, Seq: n}, nil)
	var rr protocol.ReadReceiptPush
	ua.waitFor(protocol.OpReadReceipt, &rr)
	if rr.UserID != ub.userID || rr.Seq != n {
		t.Fatalf("read receipt %+v", rr)
	}
	ub.noPush()
}

// Presence is cluster-wide: online with the first session anywhere,
// offline with the last one anywhere, and offline once a node that holds
// the last session vanishes without a goodbye (kill -9).
func TestClusterPresence(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	ua, _ := clusterUser(a, "pa", "")
	ub, ubName := clusterUser(b, "pb", "one")
	seesOnline(t, ns, ua.userID, ub.userID)
	befriend(t, ua, ub)

	// A second session on the other node: not a change.
	ub2, _ := a.login(ubName, "two")
	// (b has ub online through its own session: wait for its directory.)
	eventually(t, "node b sees ub's session on a", func() bool { return len(b.node.Sessions(ub.userID)) == 1 })
	ub.nc.Close()
	eventually(t, "node a sees ub's session on b gone", func() bool { return len(a.node.Sessions(ub.userID)) == 0 })
	ua.noPush()

	// The last one: offline, pushed from node a to ua (on a) here.
	ub2.nc.Close()
	var pp protocol.PresencePush
	ua.waitFor(protocol.OpPresence, &pp)
	if pp.UserID != ub.userID || pp.Online {
		t.Fatalf("presence %+v, want %d offline", pp, ub.userID)
	}

	// Online again on b: pushed across to ua.
	ub3, _ := b.login(ubName, "one")
	ua.waitFor(protocol.OpPresence, &pp)
	if pp.UserID != ub.userID || !pp.Online {
		t.Fatalf("presence %+v, want %d online", pp, ub.userID)
	}
	seesOnline(t, ns, ub3.userID)

	// friend.list on a shows the friend on b online.
	var fl protocol.FriendListResp
	ua.must(protocol.CodeOK, protocol.OpFriendList, &protocol.FriendListReq{}, &fl)
	if len(fl.Friends) != 1 || !fl.Friends[0].Online {
		t.Fatalf("friend list %+v", fl.Friends)
	}

	// Node b vanishes: its users go offline for the others.
	b.node.Abandon()
	ua.waitFor(protocol.OpPresence, &pp)
	if pp.UserID != ub.userID || pp.Online {
		t.Fatalf("after node loss: presence %+v, want %d offline", pp, ub.userID)
	}
}

// A user's sessions on two nodes end at the same moment, and start at the
// same moment: each node may still see the other's session, yet friends
// get exactly one offline and one online each time (the directory's order
// decides which node says it).
func TestClusterPresenceSimultaneous(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	f, _ := clusterUser(a, "sf", "")
	u, name := clusterUser(a, "su", "one")
	befriend(t, f, u)
	u.nc.Close()
	var pp protocol.PresencePush
	f.waitFor(protocol.OpPresence, &pp)
	for round := range 10 {
		var ua, ub *tclient
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); ua, _ = a.login(name, "one") }()
		go func() { defer wg.Done(); ub, _ = b.login(name, "two") }()
		wg.Wait()
		f.waitFor(protocol.OpPresence, &pp)
		if pp.UserID != u.userID || !pp.Online {
			t.Fatalf("round %d: presence %+v, want %d online", round, pp, u.userID)
		}
		seesOnline(t, ns, u.userID)
		f.noPush()
		ua.nc.Close()
		ub.nc.Close()
		f.waitFor(protocol.OpPresence, &pp)
		if pp.UserID != u.userID || pp.Online {
			t.Fatalf("round %d: presence %+v, want %d offline", round, pp, u.userID)
		}
		eventually(t, "both nodes see the user gone", func() bool { return !a.srv.router.Online(u.userID) && !b.srv.router.Online(u.userID) })
		f.noPush()
	}
}

// A profile changed through one node is the profile the user's sessions
// on the other node show as theirs (the from of a friend request, room
// member lists).
func TestClusterProfileAcrossNodes(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	onA, name := clusterUser(a, "pu", "one")
	onB, _ := b.login(name, "two")
	other, _ := clusterUser(a, "po", "")
	seesOnline(t, ns, onA.userID, other.userID)
	nick := "renamed on a"
	onA.must(protocol.CodeOK, protocol.OpProfileUpdate, &protocol.ProfileUpdateReq{Nickname: &nick}, nil)
	eventually(t, "b's session has the new nickname", func() bool {
		for _, sess := range b.srv.router.Sessions(onB.userID) {
			if sess.Profile().Nickname != nick {
				return false
			}
		}
		return true
	})
	onB.must(protocol.CodeOK, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: other.userID}, nil)
	var fr protocol.FriendRequestedPush
	other.waitFor(protocol.OpFriendRequested, &fr)
	if fr.From.Nickname != nick {
		t.Fatalf("request from %+v, want nickname %q", fr.From, nick)
	}
}

// A login on one node replaces the same device's session on the other
// (kicked login_elsewhere), quietly for friends; account.sessions lists
// both nodes' sessions; a password change kicks the other node's session.
func TestClusterKickAndSessions(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	friend, _ := clusterUser(a, "kf", "")
	old, name := clusterUser(a, "ku", "phone")
	seesOnline(t, ns, friend.userID, old.userID)
	befriend(t, friend, old)

	repl, _ := b.login(name, "phone")
	var k protocol.KickedPush
	old.waitFor(protocol.OpKicked, &k)
	if k.Reason != protocol.KickReasonLoginElsewhere {
		t.Fatalf("kicked %+v", k)
	}
	old.closed()
	eventually(t, "node b sees the phone session on a gone", func() bool { return len(b.node.Sessions(repl.userID)) == 0 })
	friend.noPush() // no offline/online flicker

	pc, _ := a.login(name, "pc")
	eventually(t, "node b sees the pc session", func() bool { return len(b.node.Sessions(repl.userID)) == 1 })
	var ss protocol.AccountSessionsResp
	repl.must(protocol.CodeOK, protocol.OpAccountSessions, &protocol.AccountSessionsReq{}, &ss)
	devices := map[string]bool{}
	for _, s := range ss.Sessions {
		devices[s.Device] = s.Current
	}
	if len(ss.Sessions) != 2 || !devices["phone"] || devices["pc"] {
		t.Fatalf("account.sessions = %+v", ss.Sessions)
	}

	var pr protocol.AccountPasswordResp
	repl.must(protocol.CodeOK, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: testPassword, NewPassword: "another-pass-1"}, &pr)
	pc.waitFor(protocol.OpKicked, &k)
	if k.Reason != protocol.KickReasonPasswordChanged {
		t.Fatalf("kicked %+v", k)
	}
	pc.closed()
	friend.noPush()
}

// A group with members on both nodes: each message reaches every member
// once, in order, from either node.
func TestClusterGroupMessages(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	owner, _ := clusterUser(a, "go", "")
	m1, _ := clusterUser(a, "g1", "")
	m2, _ := clusterUser(b, "g2", "")
	m3, _ := clusterUser(b, "g3", "")
	seesOnline(t, ns, owner.userID, m1.userID, m2.userID, m3.userID)
	for _, m := range []*tclient{m1, m2, m3} {
		befriend(t, owner, m)
	}
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "both", Members: []int64{m1.userID, m2.userID, m3.userID}}, &g)
	gid := g.Group.GroupID

	// Senders alternate between the nodes: each member gets every message
	// once, in seq order, whichever node sent it and whichever node the
	// member is on.
	const n = 20
	for i := 1; i <= n; i++ {
		from := owner
		if i%2 == 0 {
			from = m2 // half from node b
		}
		from.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: fmt.Sprint("g", i), ClientMsgID: fmt.Sprint("g", i)}, nil)
	}
	for _, c := range []*tclient{owner, m1, m2, m3} {
		for i := 1; i <= n; i++ {
			if (c == owner && i%2 == 1) || (c == m2 && i%2 == 0) {
				continue // the sending connection gets no push of its own message
			}
			var p protocol.MsgPush
			c.waitFor(protocol.OpMsgPush, &p)
			if p.Message.Seq != int64(i) || p.Message.Body != fmt.Sprint("g", i) {
				t.Fatalf("user %d: push = seq %d %q, want seq %d", c.userID, p.Message.Seq, p.Message.Body, i)
			}
		}
		c.noPush()
	}
}

// Several senders on both nodes at once, to one group with receivers on
// both nodes (and a sender's second device on the other node): every
// connection gets every message it did not send itself exactly once and in
// seq order, though the nodes append and publish independently.
func TestClusterGroupConcurrentSenders(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	owner, ownerName := clusterUser(a, "so", "")
	var senders, all []*tclient
	senders = append(senders, owner)
	for i := 0; i < 5; i++ {
		n := a
		if i%2 == 0 {
			n = b
		}
		c, _ := clusterUser(n, fmt.Sprint("ss", i), "")
		senders = append(senders, c)
	}
	var receivers []*tclient
	for i := 0; i < 4; i++ {
		c, _ := clusterUser(ns[i%2], fmt.Sprint("sr", i), "")
		receivers = append(receivers, c)
	}
	owner2, _ := b.login(ownerName, "phone") // the owner's second device, on b
	all = append(append(append(all, senders...), receivers...), owner2)
	var members []int64
	for _, c := range append(senders[1:], receivers...) {
		befriend(t, owner, c)
		members = append(members, c.userID)
	}
	for _, c := range all {
		seesOnline(t, ns, c.userID)
	}
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "busy", Members: members}, &g)
	gid := g.Group.GroupID

	// Every sender's requests are written at once, without waiting for
	// replies, so the two nodes append and publish concurrently.
	const perSender = 25
	type sent struct {
		from *tclient
		body string
		ch   chan frame
	}
	var reqs []sent
	for i := 0; i < perSender; i++ {
		for k, c := range senders {
			body := fmt.Sprintf("s%d/%d", k, i)
			_, ch := c.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: body, ClientMsgID: body})
			reqs = append(reqs, sent{c, body, ch})
		}
	}
	total := int64(len(reqs))
	bodies := map[int64]string{}
	own := map[*tclient]map[int64]bool{}
	for _, r := range reqs {
		var resp protocol.MsgSendResp
		if code := r.from.decode(r.from.wait(protocol.OpMsgSend, r.ch), &resp); code != protocol.CodeOK {
			t.Fatalf("send %s: %s", r.body, code)
		}
		if _, dup := bodies[resp.Seq]; dup || resp.Seq < 1 || resp.Seq > total {
			t.Fatalf("send %s: seq %d (of %d) repeated or out of range", r.body, resp.Seq, total)
		}
		bodies[resp.Seq] = r.body
		if own[r.from] == nil {
			own[r.from] = map[int64]bool{}
		}
		own[r.from][resp.Seq] = true
	}
	for _, c := range all {
		for seq := int64(1); seq <= total; seq++ {
			if own[c][seq] {
				continue // the sending connection gets no push of its own message
			}
			var p protocol.MsgPush
			c.waitFor(protocol.OpMsgPush, &p)
			if p.Message.Seq != seq || p.Message.Body != bodies[seq] {
				t.Fatalf("user %d: push = seq %d %q, want seq %d %q", c.userID, p.Message.Seq, p.Message.Body, seq, bodies[seq])
			}
		}
		c.noPush()
	}
}

// A message whose push never reaches a node (here: appended to the store
// behind every node's back, as when the sender's directory did not know of
// a session yet) is read from the store by the reorder gate once the next
// message shows the gap: every receiving connection gets both, once and in
// order, on the sender's node as well as across.
func TestClusterGapFilledFromStore(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	ua, uaName := clusterUser(a, "fa", "pc")
	ub, _ := clusterUser(b, "fb", "")
	ua2, _ := a.login(uaName, "phone") // ua's second device, on a
	seesOnline(t, ns, ua.userID, ub.userID)
	befriend(t, ua, ub)

	var r protocol.MsgSendResp
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: "one", ClientMsgID: "1"}, &r)
	for _, c := range []*tclient{ub, ua2} {
		var p protocol.MsgPush
		c.waitFor(protocol.OpMsgPush, &p)
		if p.Message.Seq != 1 {
			t.Fatalf("user %d: push seq %d, want 1", c.userID, p.Message.Seq)
		}
	}
	ghost, _, err := a.srv.store.AppendMessage(context.Background(), store.NewMessage{Conv: r.Conv, From: ub.userID,
		Type: protocol.MsgText, Body: "ghost", ClientMsgID: "g", TS: time.Now().UnixMilli()})
	if err != nil || ghost.Seq != 2 {
		t.Fatalf("append behind the nodes' back: seq %d, %v", ghost.Seq, err)
	}
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: "three", ClientMsgID: "3"}, nil)
	want := map[*tclient][]string{ub: {"ghost", "three"}, ua2: {"ghost", "three"}, ua: {"ghost"}}
	for _, c := range []*tclient{ub, ua2, ua} {
		for i, body := range want[c] {
			var p protocol.MsgPush
			c.waitFor(protocol.OpMsgPush, &p)
			if p.Message.Seq != int64(i+2) || p.Message.Body != body {
				t.Fatalf("user %d: push seq %d %q, want seq %d %q", c.userID, p.Message.Seq, p.Message.Body, i+2, body)
			}
		}
		c.noPush()
	}
}

// A message stored by node a but never pushed (a died before publishing
// it, or its push is still on the bus) must still reach ub on b when ub's
// own next send in the conversation goes through b first: b's gate holds
// ub's own seq (it would mark ub's session as having everything below it)
// until the gap is filled from MySQL. ub then gets the ghost, never his
// own message, and the next one.
func TestClusterOwnSendDoesNotSkipAGap(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	ua, _ := clusterUser(a, "ga", "")
	ub, _ := clusterUser(b, "gb", "")
	seesOnline(t, ns, ua.userID, ub.userID)
	befriend(t, ua, ub)

	var r protocol.MsgSendResp
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: "one", ClientMsgID: "1"}, &r)
	var p protocol.MsgPush
	ub.waitFor(protocol.OpMsgPush, &p)
	ghost, _, err := a.srv.store.AppendMessage(context.Background(), store.NewMessage{Conv: r.Conv, From: ua.userID,
		Type: protocol.MsgText, Body: "ghost", ClientMsgID: "g", TS: time.Now().UnixMilli()})
	if err != nil || ghost.Seq != 2 {
		t.Fatalf("append behind the nodes' back: seq %d, %v", ghost.Seq, err)
	}
	ub.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ua.userID, Body: "mine", ClientMsgID: "m"}, nil)
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: "four", ClientMsgID: "4"}, nil)
	for _, want := range []struct {
		seq  int64
		body string
	}{{2, "ghost"}, {4, "four"}} {
		var p protocol.MsgPush
		ub.waitFor(protocol.OpMsgPush, &p)
		if p.Message.Seq != want.seq || p.Message.Body != want.body {
			t.Fatalf("ub: push seq %d %q, want seq %d %q", p.Message.Seq, p.Message.Body, want.seq, want.body)
		}
	}
	ub.noPush()
}

// chatd user reset-password, disable and delete reach the admin listener
// of one node; the account's sessions on every node are kicked, and no one
// else's.
func TestClusterEnforceAccount(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	ctx := context.Background()
	bystander, _ := clusterUser(b, "eby", "")
	// Each user has a session on a (kicked by a itself) and one on b
	// (kicked through the bus).
	users := make([][2]*tclient, 3)
	for i := range users {
		onA, name := clusterUser(a, fmt.Sprint("en", i), "pc")
		onB, _ := b.login(name, "phone")
		users[i] = [2]*tclient{onA, onB}
		seesOnline(t, ns, onA.userID)
		eventually(t, "node a sees the session on b", func() bool { return len(a.node.Sessions(onA.userID)) == 1 })
	}
	befriend(t, users[2][0], bystander)

	kicked := func(c *tclient, reason string) {
		t.Helper()
		var k protocol.KickedPush
		c.waitFor(protocol.OpKicked, &k)
		if k.Reason != reason {
			t.Fatalf("user %d kicked %+v, want %s", c.userID, k, reason)
		}
		c.closed()
	}

	// reset-password: every token revoked.
	reset := users[0][0].userID
	if err := a.st.ChangePassword(ctx, reset, "reset-hash", store.Session{}); err != nil {
		t.Fatal(err)
	}
	if n, err := a.srv.EnforceAccount(ctx, reset); err != nil || n != 1 {
		t.Fatalf("enforce after reset: kicked %d here, %v; want 1", n, err)
	}
	kicked(users[0][0], protocol.KickReasonRevoked)
	kicked(users[0][1], protocol.KickReasonRevoked)

	// disable.
	disabled := users[1][0].userID
	if err := a.st.SetUserDisabled(ctx, disabled, true); err != nil {
		t.Fatal(err)
	}
	if n, err := a.srv.EnforceAccount(ctx, disabled); err != nil || n != 1 {
		t.Fatalf("enforce after disable: kicked %d here, %v; want 1", n, err)
	}
	kicked(users[1][0], protocol.KickReasonRevoked)
	kicked(users[1][1], protocol.KickReasonRevoked)

	// delete: the friend on b learns it too.
	deleted := users[2][0].userID
	del, err := a.st.DeleteAccount(ctx, deleted, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.srv.EnforceDeletion(ctx, deleted, del); err != nil || n != 1 {
		t.Fatalf("enforce deletion: kicked %d here, %v; want 1", n, err)
	}
	kicked(users[2][0], protocol.KickReasonAccountDeleted)
	kicked(users[2][1], protocol.KickReasonAccountDeleted)
	var fr protocol.FriendRemovedPush
	bystander.waitFor(protocol.OpFriendRemoved, &fr)
	if fr.UserID != deleted {
		t.Fatalf("friend.removed %+v, want %d", fr, deleted)
	}
	bystander.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
	eventually(t, "the kicked sessions leave the directory", func() bool {
		for _, u := range users {
			if a.srv.router.Online(u[0].userID) || b.srv.router.Online(u[0].userID) {
				return false
			}
		}
		return true
	})
}

// Group membership changed on node a is what node b uses on the very next
// request: a join on a, then a send on b, reaches the new member; a kick
// on a, then a send on b by the kicked member, is FORBIDDEN.
func TestClusterGroupCacheInvalidation(t *testing.T) {
	ns := newCluster(t, clustertest.URL(t), "a", "b")
	a, b := ns[0], ns[1]
	owner, _ := clusterUser(a, "io", "")
	x, _ := clusterUser(b, "ix", "")
	y, _ := clusterUser(a, "iy", "")
	seesOnline(t, ns, owner.userID, x.userID, y.userID)
	befriend(t, owner, x)
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "inv", Members: []int64{x.userID}}, &g)
	gid := g.Group.GroupID
	// Node b loads the member set into its cache.
	x.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "warm", ClientMsgID: "w"}, nil)
	owner.waitFor(protocol.OpMsgPush, nil)

	y.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: gid}, nil)
	x.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "after join", ClientMsgID: "j"}, nil)
	var p protocol.MsgPush
	y.waitFor(protocol.OpMsgPush, &p)
	if p.Message.Body != "after join" {
		t.Fatalf("y got %q", p.Message.Body)
	}

	owner.must(protocol.CodeOK, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: x.userID}, nil)
	x.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "kicked", ClientMsgID: "k"}, nil)
	x.waitFor(protocol.OpGroupEvent, nil)

	// Friendship: removed on a, a send on b is refused at once.
	owner.must(protocol.CodeOK, protocol.OpFriendRemove, &protocol.FriendRemoveReq{UserID: x.userID}, nil)
	x.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: owner.userID, Body: "hi", ClientMsgID: "f"}, nil)
}

// The bus drops: each node keeps serving its own users; when it comes
// back, cross-node delivery resumes.
func TestClusterBusOutage(t *testing.T) {
	srv := clustertest.Embedded(t)
	ns := newCluster(t, srv.URL(), "a", "b")
	a, b := ns[0], ns[1]
	ua, _ := clusterUser(a, "oa", "")
	ub, _ := clusterUser(a, "ob", "")
	uc, _ := clusterUser(b, "oc", "")
	seesOnline(t, ns, ua.userID, ub.userID, uc.userID)
	befriend(t, ua, ub)
	befriend(t, ua, uc)

	srv.Stop()
	eventually(t, "node a sees the bus down", func() bool { return a.srv.BusCheck(context.Background()) != nil })
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: ub.userID, Body: "local", ClientMsgID: "l"}, nil)
	var p protocol.MsgPush
	ub.waitFor(protocol.OpMsgPush, &p)
	if p.Message.Body != "local" {
		t.Fatalf("local push %q", p.Message.Body)
	}

	srv.Start()
	eventually(t, "both nodes see the bus up", func() bool {
		return a.srv.BusCheck(context.Background()) == nil && b.srv.BusCheck(context.Background()) == nil
	})
	ua.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: uc.userID, Body: "across", ClientMsgID: "x"}, nil)
	uc.waitFor(protocol.OpMsgPush, &p)
	if p.Message.Body != "across" {
		t.Fatalf("cross-node push %q", p.Message.Body)
	}
}
