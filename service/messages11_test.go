package service

import (
	"cmp"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/store"
)

// Protocol 1.1 message features (section 14): mentions and replies,
// recall, typing and search.

var _ = register("Mentions", testMentions)
var _ = register("Recall", testRecall)
var _ = register("RecallGroupRoles", testRecallGroupRoles)
var _ = register("Typing", testTyping)
var _ = register("MsgSearch", testMsgSearch)

// newGroup creates a group owned by owner, joined by members (pushes
// drained), and returns its id.
func newGroup(t *testing.T, owner *tclient, members ...*tclient) int64 {
	t.Helper()
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "team"}, &g)
	for _, m := range members {
		m.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: g.Group.GroupID}, nil)
	}
	for _, c := range append(members, owner) {
		c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
		c.drain()
	}
	return g.Group.GroupID
}

// setAdmin makes user an admin of the group in the store (group.set_role
// belongs to another part of 1.1).
func setAdmin(t *testing.T, e *env, gid, user int64) {
	t.Helper()
	if err := e.st.SetMemberRole(t.Context(), gid, user, store.RoleAdmin); err != nil {
		t.Fatalf("set role: %v", err)
	}
}

// errorOf sends a request that must fail with want and returns the error
// body.
func errorOf(t *testing.T, c *tclient, want protocol.Code, op protocol.Op, body any) protocol.Error {
	t.Helper()
	_, ch := c.send(op, body)
	f := c.wait(op, ch)
	var e protocol.Error
	if err := protocol.Unmarshal(f.body, &e); err != nil || e.Code != want {
		t.Fatalf("%s: %s (%v), want %s", op, f.body, err, want)
	}
	return e
}

func testMentions(t *testing.T, b backend) {
	e := newEnv(t, b)
	owner, admin, plain, outsider := e.user("mo"), e.user("ma"), e.user("mp"), e.user("mx")
	gid := newGroup(t, owner, admin, plain)
	setAdmin(t, e, gid, admin.userID)
	conv := protocol.GroupConv(gid)

	plain.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "all", ClientMsgID: "1", MentionAll: true}, nil)
	plain.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: "2", Mentions: []int64{outsider.userID}}, nil)
	plain.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: "3", ReplyTo: 1}, nil)
	befriend(t, plain, outsider)
	plain.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: outsider.userID, Body: "x", ClientMsgID: "4", Mentions: []int64{outsider.userID}}, nil)

	r1 := send(t, admin, &protocol.MsgSendReq{ToGroup: gid, Body: "meeting", ClientMsgID: "a1", MentionAll: true})
	r2 := send(t, owner, &protocol.MsgSendReq{ToGroup: gid, Body: "you?", ClientMsgID: "o1", Mentions: []int64{plain.userID}, ReplyTo: r1.Seq})
	var mp protocol.MsgPush
	plain.expect(protocol.OpMsgPush, &mp)
	if !mp.Message.MentionAll || mp.Message.Seq != r1.Seq {
		t.Fatalf("mention_all push %+v", mp.Message)
	}
	plain.expect(protocol.OpMsgPush, &mp)
	if !slices.Equal(mp.Message.Mentions, []int64{plain.userID}) || mp.Message.ReplyTo != r1.Seq || mp.Message.Seq != r2.Seq {
		t.Fatalf("mention push %+v", mp.Message)
	}
	var sync protocol.MsgSyncResp
	plain.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv}, &sync)
	if len(sync.Messages) != 2 || sync.Messages[1].ReplyTo != r1.Seq || !sync.Messages[0].MentionAll {
		t.Fatalf("sync %+v", sync.Messages)
	}
	var cl protocol.ConvListResp
	plain.must(protocol.CodeOK, protocol.OpConvList, &protocol.ConvListReq{}, &cl)
	for _, c := range cl.Convs {
		if c.Conv == conv && c.MentionSeq != r2.Seq {
			t.Fatalf("mention_seq %+v, want %d", c, r2.Seq)
		}
	}

	// The login reply names the server and what it offers.
	var p protocol.ProfileGetResp
	plain.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: plain.userID}, &p)
	_, lr := e.login(p.Profile.Username, "other")
	if lr.Server == nil || lr.Server.Protocol != "1.1" {
		t.Fatalf("login server %+v", lr.Server)
	}
	for _, f := range []string{"ws", "recall", "typing", "search", "mentions", "group_admin", "account", "room_paging"} {
		if !slices.Contains(lr.Server.Features, f) {
			t.Fatalf("features %v lack %s", lr.Server.Features, f)
		}
	}
	if slices.Contains(lr.Server.Features, "cluster") != (e.bus != nil) {
		t.Fatalf("features %v, in a cluster %v", lr.Server.Features, e.bus != nil)
	}
	if slices.Contains(lr.Server.Features, "tls") != (e.cfg.TLS != nil) {
		t.Fatalf("features %v, TLS configured %v", lr.Server.Features, e.cfg.TLS != nil)
	}
}

func testRecall(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, bName := e.offlineFriends("ra", "rb")
	stranger := e.user("rx")
	conv := protocol.PrivateConv(a.userID, bb.userID)
	r1 := send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "oops", ClientMsgID: "r1"})

	stranger.must(protocol.CodeForbidden, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: r1.Seq}, nil)
	a.must(protocol.CodeNotFound, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: 99}, nil)
	var rr protocol.MsgRecallResp
	a.must(protocol.CodeOK, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: r1.Seq}, &rr)
	if rr.Seq != r1.Seq+1 {
		t.Fatalf("recall seq %d", rr.Seq)
	}
	if e := errorOf(t, a, protocol.CodeAlreadyExists, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: r1.Seq}); e.Seq != rr.Seq {
		t.Fatalf("already recalled: %+v, want seq %d", e, rr.Seq)
	}
	a.must(protocol.CodeBadRequest, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: rr.Seq}, nil)

	// The offline device learns of it through its backlog, then sync.
	b2, _ := e.login(bName, "")
	check := func(what string, ms []protocol.Message) {
		t.Helper()
		if len(ms) != 2 || ms[0].Type != protocol.MsgTypeRecalled || ms[0].Body != "" ||
			ms[1].Type != protocol.MsgTypeRecall || ms[1].Body != protocol.RecallBody(r1.Seq) || ms[1].From != a.userID {
			t.Fatalf("%s %+v", what, ms)
		}
	}
	var mp1, mp2 protocol.MsgPush
	b2.waitFor(protocol.OpMsgPush, &mp1)
	b2.expect(protocol.OpMsgPush, &mp2)
	check("backlog", []protocol.Message{mp1.Message, mp2.Message})
	var sync protocol.MsgSyncResp
	b2.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv}, &sync)
	check("sync", sync.Messages)
	// The receiver may not recall the sender's message; an online peer
	// gets the recall pushed.
	r3 := send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "again", ClientMsgID: "r3"})
	var mp protocol.MsgPush
	b2.expect(protocol.OpMsgPush, &mp)
	b2.must(protocol.CodeForbidden, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: r3.Seq}, nil)
	a.must(protocol.CodeOK, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: r3.Seq}, &rr)
	b2.expect(protocol.OpMsgPush, &mp)
	if mp.Message.Type != protocol.MsgTypeRecall || mp.Message.Seq != rr.Seq {
		t.Fatalf("recall push %+v", mp.Message)
	}
}

func testRecallGroupRoles(t *testing.T, b backend) {
	// A zero-length window: senders can no longer recall their own
	// messages, so only roles decide.
	e := newEnv(t, b, func(c *Config) { c.RecallWindow = time.Nanosecond })
	owner, admin, plain, other := e.user("go"), e.user("ga"), e.user("gp"), e.user("gq")
	gid := newGroup(t, owner, admin, plain, other)
	setAdmin(t, e, gid, admin.userID)
	conv := protocol.GroupConv(gid)
	say := func(c *tclient, id string) int64 {
		r := send(t, c, &protocol.MsgSendReq{ToGroup: gid, Body: id, ClientMsgID: id})
		return r.Seq
	}
	recall := func(c *tclient, want protocol.Code, seq int64) {
		t.Helper()
		c.must(want, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: conv, Seq: seq}, nil)
	}
	ownerMsg, adminMsg, plainMsg, plainMsg2, plainMsg3 := say(owner, "o"), say(admin, "a"), say(plain, "p"), say(plain, "p2"), say(plain, "p3")
	recall(plain, protocol.CodeForbidden, plainMsg) // window passed
	recall(other, protocol.CodeForbidden, plainMsg)
	recall(admin, protocol.CodeForbidden, ownerMsg)
	recall(admin, protocol.CodeOK, adminMsg)
	recall(admin, protocol.CodeOK, plainMsg)
	recall(owner, protocol.CodeOK, plainMsg2)
	recall(owner, protocol.CodeOK, ownerMsg)
	// FORBIDDEN comes before ALREADY_EXISTS and BAD_REQUEST.
	recall(other, protocol.CodeForbidden, plainMsg2)
	recall(owner, protocol.CodeAlreadyExists, plainMsg2)
	_ = plainMsg3
}

func testTyping(t *testing.T, b backend) {
	e := newEnv(t, b, func(c *Config) { c.TypingRate = 2 })
	a, bb, stranger := e.user("ta"), e.user("tb"), e.user("tx")
	befriend(t, a, bb)
	var p protocol.ProfileGetResp
	a.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: a.userID}, &p)
	a2, _ := e.login(p.Profile.Username, "second")
	bb.drain()
	conv := protocol.PrivateConv(a.userID, bb.userID)

	stranger.must(protocol.CodeForbidden, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: conv}, nil)
	a.must(protocol.CodeOK, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: conv}, nil)
	var tp protocol.TypingPush
	bb.expect(protocol.OpTyping, &tp)
	if tp.Conv != conv || tp.UserID != a.userID {
		t.Fatalf("typing push %+v", tp)
	}
	// Inside the window: OK, nothing pushed; never to the typist's devices.
	a.must(protocol.CodeOK, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: conv}, nil)
	bb.noPush()
	a2.noPush()
	// The typing limit is its own: once it bites, messages still go.
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		_, ch := a.send(protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: conv})
		limited = a.decode(a.wait(protocol.OpMsgTyping, ch), nil) == protocol.CodeRateLimited
	}
	if !limited {
		t.Fatal("typing never rate limited at 2/s")
	}
	send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "hi", ClientMsgID: "t1"})

	// In a group, every other member's devices get it.
	c := e.user("tc")
	gid := newGroup(t, bb, c)
	bb.drain()
	bb.must(protocol.CodeOK, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: protocol.GroupConv(gid)}, nil)
	c.expect(protocol.OpTyping, &tp)
	if tp.UserID != bb.userID || tp.Conv != protocol.GroupConv(gid) {
		t.Fatalf("group typing push %+v", tp)
	}
	bb.noPush()
	a2.must(protocol.CodeForbidden, protocol.OpMsgTyping, &protocol.MsgTypingReq{Conv: protocol.GroupConv(gid)}, nil)
}

func testMsgSearch(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, c := e.user("sa"), e.user("sb"), e.user("sc")
	befriend(t, a, bb)
	gid := newGroup(t, a, c)
	group := protocol.GroupConv(gid)
	// Matches come by msg_id descending: on one node the newest first, in a
	// cluster as the nodes' id blocks fall.
	hello := []protocol.MsgSendResp{
		send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "Hello world", ClientMsgID: "1"}),
		send(t, bb, &protocol.MsgSendReq{ToUser: a.userID, Body: "say hello again", ClientMsgID: "2"}),
	}
	send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "你好世界", ClientMsgID: "3"})
	hello = append(hello, send(t, c, &protocol.MsgSendReq{ToGroup: gid, Body: "HELLO group", ClientMsgID: "4"}))
	helloBodies := map[int64]string{hello[0].MsgID: "Hello world", hello[1].MsgID: "say hello again", hello[2].MsgID: "HELLO group"}
	slices.SortFunc(hello, func(x, y protocol.MsgSendResp) int { return cmp.Compare(y.MsgID, x.MsgID) })
	var wantHello []string
	for _, r := range hello {
		wantHello = append(wantHello, helloBodies[r.MsgID])
	}
	gone := send(t, c, &protocol.MsgSendReq{ToGroup: gid, Body: "hello, recalled", ClientMsgID: "5"})
	c.must(protocol.CodeOK, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: group, Seq: gone.Seq}, nil)

	search := func(cl *tclient, req *protocol.MsgSearchReq) protocol.MsgSearchResp {
		t.Helper()
		var r protocol.MsgSearchResp
		cl.must(protocol.CodeOK, protocol.OpMsgSearch, req, &r)
		return r
	}
	bodies := func(r protocol.MsgSearchResp) []string {
		var out []string
		for _, m := range r.Messages {
			out = append(out, m.Body)
		}
		return out
	}
	if r := search(a, &protocol.MsgSearchReq{Query: "hello"}); !slices.Equal(bodies(r), wantHello) || r.More {
		t.Fatalf("a's search %q more=%v, want %q", bodies(r), r.More, wantHello)
	}
	if r := search(bb, &protocol.MsgSearchReq{Query: "hello"}); len(r.Messages) != 2 {
		t.Fatalf("b's search %q", bodies(r))
	}
	p1 := search(a, &protocol.MsgSearchReq{Query: "HELLO", Limit: 2})
	if len(p1.Messages) != 2 || !p1.More {
		t.Fatalf("page 1 %q more=%v", bodies(p1), p1.More)
	}
	p2 := search(a, &protocol.MsgSearchReq{Query: "HELLO", Limit: 2, BeforeMsgID: p1.Messages[1].MsgID})
	if !slices.Equal(bodies(p2), wantHello[2:]) || p2.More {
		t.Fatalf("page 2 %q more=%v", bodies(p2), p2.More)
	}
	if r := search(a, &protocol.MsgSearchReq{Query: "hello", Conv: group}); !slices.Equal(bodies(r), []string{"HELLO group"}) {
		t.Fatalf("group search %q", bodies(r))
	}
	if r := search(a, &protocol.MsgSearchReq{Query: "你好"}); !slices.Equal(bodies(r), []string{"你好世界"}) {
		t.Fatalf("chinese search %q", bodies(r))
	}
	bb.must(protocol.CodeForbidden, protocol.OpMsgSearch, &protocol.MsgSearchReq{Query: "hello", Conv: group}, nil)
	bb.must(protocol.CodeBadRequest, protocol.OpMsgSearch, &protocol.MsgSearchReq{Query: ""}, nil)
}

var _ = register("RecallFile", testRecallFile)

// A recalled file message's file can no longer be fetched, and a download
// token fetched before the recall no longer works.
func testRecallFile(t *testing.T, b backend) {
	e, _ := newFileEnv(t, b)
	a, bb := e.user("rfa"), e.user("rfb")
	befriend(t, a, bb)
	data, sum := randomFile(2, 1000)
	var offer protocol.FileOfferResp
	a.must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: bb.userID, Name: "f.bin", Size: int64(len(data)), Sha256: sum}, &offer)
	uploadOffer(t, &offer, data)
	var mp protocol.MsgPush
	bb.waitFor(protocol.OpMsgPush, &mp)
	var fr protocol.FileFetchResp
	bb.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, &fr)
	a.must(protocol.CodeOK, protocol.OpMsgRecall, &protocol.MsgRecallReq{Conv: mp.Message.Conv, Seq: mp.Message.Seq}, nil)
	bb.must(protocol.CodeNotFound, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, nil)
	if _, err := files.Download(t.Context(), fr.FileAddr, fr.DownloadToken, 0, io.Discard); protocol.AsError(err) == nil || protocol.AsError(err).Code != protocol.CodeNotFound {
		t.Fatalf("download after recall: %v, want NOT_FOUND", err)
	}
}
