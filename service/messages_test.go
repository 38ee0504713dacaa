package service

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatd/chatd/protocol"
)

var _ = register("MsgSendDupAndPush", testMsgSendDupAndPush)
var _ = register("MsgSyncAckReadConvList", testMsgSyncAckReadConvList)
var _ = register("OfflineDeliveryAcrossRestart", testOfflineDeliveryAcrossRestart)
var _ = register("MsgRateLimit", testMsgRateLimit)

func send(t *testing.T, c *tclient, req *protocol.MsgSendReq) protocol.MsgSendResp {
	t.Helper()
	var r protocol.MsgSendResp
	c.must(protocol.CodeOK, protocol.OpMsgSend, req, &r)
	return r
}

func testMsgSendDupAndPush(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, stranger := e.user("ma"), e.user("mb"), e.user("ms")
	befriend(t, a, bb)
	var lr protocol.LoginResp
	a2 := e.dial()
	var p protocol.ProfileGetResp
	a.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: a.userID}, &p)
	a2.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: p.Profile.Username, Password: testPassword, Device: "second"}, &lr)

	a.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: stranger.userID, Body: "hi", ClientMsgID: "x1"}, nil)
	a.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: 1 << 40, Body: "hi", ClientMsgID: "x1"}, nil)
	a.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: a.userID, Body: "hi", ClientMsgID: "x1"}, nil)
	a.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Body: "hi"}, nil)
	a.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Body: "hi", ClientMsgID: strings.Repeat("x", 65)}, nil)
	a.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, ToGroup: 1, Body: "hi", ClientMsgID: "x"}, nil)
	a.must(protocol.CodeBadRequest, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Type: "video", Body: "hi", ClientMsgID: "x"}, nil)
	a.must(protocol.CodeTooLarge, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Body: strings.Repeat("a", 16<<10+1), ClientMsgID: "x"}, nil)
	a.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Type: "file", Body: "12345", ClientMsgID: "f"}, nil)

	conv := protocol.PrivateConv(a.userID, bb.userID)
	r1 := send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: strings.Repeat("a", 16<<10), ClientMsgID: "c1"})
	if r1.Conv != conv || r1.Seq != 1 || r1.MsgID <= 0 || r1.Ts <= 0 {
		t.Fatalf("send reply %+v", r1)
	}
	var mp protocol.MsgPush
	bb.expect(protocol.OpMsgPush, &mp)
	m := mp.Message
	if m.MsgID != r1.MsgID || m.Conv != conv || m.Seq != 1 || m.From != a.userID || m.Type != "text" || m.ClientMsgID != "c1" || len(m.Body) != 16<<10 {
		t.Fatalf("push %+v", m)
	}
	// The sender's other device gets it, the sending connection does not.
	a2.expect(protocol.OpMsgPush, &mp)
	if mp.Message.MsgID != r1.MsgID {
		t.Fatalf("other device push %+v", mp.Message)
	}
	// Duplicate: same reply, nothing delivered.
	dup := send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "different", ClientMsgID: "c1"})
	if dup.MsgID != r1.MsgID || dup.Seq != 1 {
		t.Fatalf("duplicate reply %+v, original %+v", dup, r1)
	}
	// Replies in the other direction keep one sequence; order holds.
	for i := 2; i <= 20; i++ {
		from, to := a, bb
		if i%2 == 1 {
			from, to = bb, a
		}
		r := send(t, from, &protocol.MsgSendReq{ToUser: to.userID, Body: fmt.Sprint(i), ClientMsgID: fmt.Sprint("k", i)})
		if r.Seq != int64(i) {
			t.Fatalf("seq %d want %d", r.Seq, i)
		}
	}
	for i := 2; i <= 20; i++ {
		if i%2 == 0 {
			bb.expect(protocol.OpMsgPush, &mp)
		} else {
			a.expect(protocol.OpMsgPush, &mp)
		}
		if mp.Message.Seq != int64(i) {
			t.Fatalf("push seq %d want %d", mp.Message.Seq, i)
		}
	}
	a.noPush()
	bb.noPush()
	for i := 2; i <= 20; i++ {
		a2.expect(protocol.OpMsgPush, &mp)
		if mp.Message.Seq != int64(i) {
			t.Fatalf("a2 push seq %d want %d", mp.Message.Seq, i)
		}
	}
}

func testMsgSyncAckReadConvList(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, c := e.user("sa"), e.user("sb"), e.user("sc")
	befriend(t, a, bb)
	conv := protocol.PrivateConv(a.userID, bb.userID)
	for i := 1; i <= 7; i++ {
		send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: fmt.Sprint("m", i), ClientMsgID: fmt.Sprint(i)})
	}
	var sr protocol.MsgSyncResp
	bb.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv, AfterSeq: 2, Limit: 3}, &sr)
	if len(sr.Messages) != 3 || sr.Messages[0].Seq != 3 || sr.Messages[2].Seq != 5 || !sr.More {
		t.Fatalf("sync page %+v", sr)
	}
	bb.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv, AfterSeq: 5}, &sr)
	if len(sr.Messages) != 2 || sr.More {
		t.Fatalf("sync tail %+v", sr)
	}
	bb.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv, AfterSeq: 7, Limit: 100000}, &sr)
	if len(sr.Messages) != 0 || sr.Messages == nil || sr.More {
		t.Fatalf("sync past end %+v", sr)
	}
	c.must(protocol.CodeForbidden, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv, AfterSeq: 0}, nil)
	c.must(protocol.CodeForbidden, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: conv, Seq: 1}, nil)
	c.must(protocol.CodeForbidden, protocol.OpMsgRead, &protocol.MsgReadReq{Conv: conv, Seq: 1}, nil)
	bb.must(protocol.CodeBadRequest, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: "p:2:1", AfterSeq: 0}, nil)
	bb.must(protocol.CodeBadRequest, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: conv, AfterSeq: -1}, nil)

	// The sender's cursor followed its own sends.
	var cl protocol.ConvListResp
	a.must(protocol.CodeOK, protocol.OpConvList, struct{}{}, &cl)
	if len(cl.Convs) != 1 || cl.Convs[0].LastSeq != 7 || cl.Convs[0].AckSeq != 7 || cl.Convs[0].Last == nil || cl.Convs[0].Last.Body != "m7" {
		t.Fatalf("sender conv.list %+v", cl)
	}
	bb.must(protocol.CodeOK, protocol.OpConvList, struct{}{}, &cl)
	if len(cl.Convs) != 1 || cl.Convs[0].AckSeq != 0 || cl.Convs[0].LastSeq != 7 {
		t.Fatalf("receiver conv.list %+v", cl)
	}
	bb.must(protocol.CodeOK, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: conv, Seq: 5}, nil)
	bb.must(protocol.CodeOK, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: conv, Seq: 3}, nil) // never back
	bb.must(protocol.CodeOK, protocol.OpMsgRead, &protocol.MsgReadReq{Conv: conv, Seq: 4}, nil)
	var rr protocol.ReadReceiptPush
	a.waitFor(protocol.OpReadReceipt, &rr)
	if rr.Conv != conv || rr.UserID != bb.userID || rr.Seq != 4 {
		t.Fatalf("read receipt %+v", rr)
	}
	bb.must(protocol.CodeOK, protocol.OpConvList, struct{}{}, &cl)
	if cl.Convs[0].AckSeq != 5 || cl.Convs[0].ReadSeq != 4 {
		t.Fatalf("cursors %+v", cl.Convs[0])
	}

	// A reply that would exceed the max frame holds what fits, more=true.
	small := newEnv(t, b, func(c *Config) {
		c.Limits = protocol.DefaultLimits()
		c.Limits.MaxFrameBody = 4 << 10
	})
	x, y := small.user("fx"), small.user("fy")
	befriend(t, x, y)
	for i := range 5 {
		send(t, x, &protocol.MsgSendReq{ToUser: y.userID, Body: strings.Repeat("z", 1500), ClientMsgID: fmt.Sprint(i)})
	}
	y.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: protocol.PrivateConv(x.userID, y.userID)}, &sr)
	if len(sr.Messages) != 2 || !sr.More || sr.Messages[0].Seq != 1 {
		t.Fatalf("frame-limited sync: %d messages more=%v", len(sr.Messages), sr.More)
	}
	// conv.list and login fit too: the optional last messages are dropped.
	var cl2 protocol.ConvListResp
	y.must(protocol.CodeOK, protocol.OpConvList, struct{}{}, &cl2)
	if len(cl2.Convs) != 1 || cl2.Convs[0].LastSeq != 5 {
		t.Fatalf("frame-limited conv.list %+v", cl2)
	}
	var g protocol.GroupResp
	y.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "g"}, &g)
	send(t, y, &protocol.MsgSendReq{ToGroup: g.Group.GroupID, Body: strings.Repeat("q", 3000), ClientMsgID: "big"})
	var plr protocol.ProfileGetResp
	y.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: y.userID}, &plr)
	_, lr := small.login(plr.Profile.Username, "other")
	if len(lr.Convs) != 2 || lr.Convs[0].Last != nil || lr.Convs[1].Last != nil {
		t.Fatalf("frame-limited login convs %+v", lr.Convs)
	}
}

func testOfflineDeliveryAcrossRestart(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bc, bn := e.offlineFriends("oa", "ob")
	conv := protocol.PrivateConv(a.userID, bc.userID)
	// A group conversation too.
	var g protocol.GroupResp
	a.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "g", Members: []int64{bc.userID}}, &g)
	for i := 1; i <= 5; i++ {
		send(t, a, &protocol.MsgSendReq{ToUser: bc.userID, Body: fmt.Sprint("p", i), ClientMsgID: fmt.Sprint("p", i)})
		send(t, a, &protocol.MsgSendReq{ToGroup: g.Group.GroupID, Body: fmt.Sprint("g", i), ClientMsgID: fmt.Sprint("g", i)})
	}
	e.restart()
	b2, lr := e.login(bn, "")
	if len(lr.Convs) != 2 {
		t.Fatalf("login convs %+v", lr.Convs)
	}
	next := map[string]int64{}
	for range 10 {
		var mp protocol.MsgPush
		b2.expect(protocol.OpMsgPush, &mp)
		next[mp.Message.Conv]++
		if mp.Message.Seq != next[mp.Message.Conv] {
			t.Fatalf("backlog out of order: %+v", mp.Message)
		}
	}
	if next[conv] != 5 || next[protocol.GroupConv(g.Group.GroupID)] != 5 {
		t.Fatalf("backlog %v", next)
	}
	b2.noPush()
	// Ack part: the next login pushes only the rest.
	b2.must(protocol.CodeOK, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: conv, Seq: 3}, nil)
	b2.must(protocol.CodeOK, protocol.OpMsgAck, &protocol.MsgAckReq{Conv: protocol.GroupConv(g.Group.GroupID), Seq: 5}, nil)
	b2.nc.Close()
	b3, _ := e.login(bn, "")
	var mp protocol.MsgPush
	b3.expect(protocol.OpMsgPush, &mp)
	if mp.Message.Seq != 4 || mp.Message.Conv != conv {
		t.Fatalf("after ack %+v", mp.Message)
	}
	b3.expect(protocol.OpMsgPush, &mp)
	if mp.Message.Seq != 5 {
		t.Fatalf("after ack %+v", mp.Message)
	}
	b3.noPush()
}

func testMsgRateLimit(t *testing.T, b backend) {
	e := newEnv(t, b, func(c *Config) { c.MsgRate = 0.01; c.MsgBurst = 3 })
	a, bb := e.user("ra"), e.user("rb")
	befriend(t, a, bb)
	// Pipeline 6 sends: the burst passes, the rest are RATE_LIMITED.
	chs := make([]chan frame, 6)
	for i := range chs {
		_, chs[i] = a.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Body: "x", ClientMsgID: fmt.Sprint(i)})
	}
	ok, limited := 0, 0
	for _, ch := range chs {
		var st protocol.Status
		switch a.decode(a.wait(protocol.OpMsgSend, ch), &st) {
		case protocol.CodeOK:
			ok++
		case protocol.CodeRateLimited:
			limited++
			if st.RetryAfterMs <= 0 || st.RetryAfterMs > 100_001 {
				t.Fatalf("retry_after_ms %d", st.RetryAfterMs)
			}
		}
	}
	if ok != 3 || limited != 3 {
		t.Fatalf("ok %d limited %d", ok, limited)
	}
	// Another connection has its own budget.
	bb.must(protocol.CodeOK, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: a.userID, Body: "y", ClientMsgID: "y"}, nil)
}
