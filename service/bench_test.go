package service

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// BenchmarkSequencer measures one send's ticket and release in a busy
// conversation.
func BenchmarkSequencer(b *testing.B) {
	q := newSequencer()
	var seq int64
	for b.Loop() {
		tk := q.begin("g:1")
		seq++
		q.done(tk, seq, func() {})
	}
}

// BenchmarkSequencerParallel spreads sends over many conversations.
func BenchmarkSequencerParallel(b *testing.B) {
	q := newSequencer()
	convs := make([]string, 1024)
	for i := range convs {
		convs[i] = "g:" + strconv.Itoa(i+1)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			tk := q.begin(convs[i%len(convs)])
			q.done(tk, 0, nil)
		}
	})
}

// BenchmarkFanoutLookup1000 is the routing part of a message to a
// 1,000-member group with every member online: one atomic load for the
// member set, one lock-free lookup per member.
func BenchmarkFanoutLookup1000(b *testing.B) {
	r := newMemRouter()
	g := newGroupCache(nil)
	ids := make([]int64, 1000)
	for i := range ids {
		ids[i] = int64(i + 1)
		r.Attach(newSession(&connState{}, protocol.Profile{UserID: ids[i]}, "d", nil, false))
	}
	g.set(7, ids)
	b.ResetTimer()
	for b.Loop() {
		members, err := g.members(b.Context(), 7)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, id := range members {
			n += len(r.Sessions(id))
		}
		if n != 1000 {
			b.Fatal(n)
		}
	}
}

// BenchmarkMsgSend measures a private message end to end over TCP on the
// embedded store: send, durable append, reply, push to the receiver.
func BenchmarkMsgSend(b *testing.B) {
	e := newEnvB(b)
	a, r := e.userB("ba"), e.userB("bb")
	befriend(b, a, r)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		_, ch := a.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: r.userID, Body: "benchmark message", ClientMsgID: fmt.Sprint(i)})
		if code := a.decode(a.wait(protocol.OpMsgSend, ch), nil); code != protocol.CodeOK {
			b.Fatalf("send: %s", code)
		}
		r.expect(protocol.OpMsgPush, nil)
	}
}

// BenchmarkMsgSendPairs has 50 pairs of friends send to each other at
// once (each sender one request in flight), so group commits batch.
func BenchmarkMsgSendPairs(b *testing.B) {
	e := newEnvB(b)
	const pairs = 50
	senders := make([]*tclient, 2*pairs)
	for i := range senders {
		senders[i] = e.userB("bp")
	}
	for p := range pairs {
		befriend(b, senders[2*p], senders[2*p+1])
	}
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, s := range senders {
		peer := senders[i^1]
		wg.Go(func() {
			for k := 0; next.Add(1) <= int64(b.N); k++ {
				_, ch := s.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: peer.userID, Body: "benchmark message", ClientMsgID: fmt.Sprint(k)})
				<-ch
			}
		})
	}
	wg.Wait()
}

// BenchmarkGroupFanout1000 sends to a group of 1,000 online members and
// waits until every other member has the push: one op is one message and
// 999 deliveries.
func BenchmarkGroupFanout1000(b *testing.B) {
	e := newEnvB(b)
	ctx := b.Context()
	hash, err := e.srv.hasher.Hash(ctx, testPassword)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000
	ids := make([]int64, n)
	clients := make([]*tclient, n)
	for i := range n {
		name := fmt.Sprintf("fan_%d_%d", userSeq.Add(1), i)
		u, err := e.st.CreateUser(ctx, name, name, hash, 1)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
		clients[i], _ = e.login(name, "")
	}
	g, err := e.st.CreateGroup(ctx, "fan", ids[0], ids[1:], 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		_, ch := clients[0].send(protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: g.ID, Body: "to everyone", ClientMsgID: fmt.Sprint(i)})
		clients[0].wait(protocol.OpMsgSend, ch)
		for _, c := range clients[1:] {
			<-c.pushes
		}
	}
	b.ReportMetric(float64(b.N*(n-1))/b.Elapsed().Seconds(), "deliveries/s")
}
