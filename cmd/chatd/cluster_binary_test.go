//go:build unix

package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store/mysqltest"
)

// These tests run two real chatd processes as one server (one fresh
// MySQL database, one NATS server) and drive them through the SDK with
// both addresses, as an application would. The NATS server is always an
// embedded one of the test's own: the chatd binary names its directory
// bucket "chatd", which a NATS server shared between tests would mix up
// (CHATD_TEST_NATS_URL is not used here).

// inbox is what one receiving application is handed through its client:
// each chat message it was pushed (or found by a catch-up sync), counted,
// and the presence changes of its friends.
type inbox struct {
	mu       sync.Mutex
	got      map[string]int            // message body -> deliveries
	seqs     map[string]map[int64]bool // conv -> seqs arrived
	next     map[string]int64          // conv -> every seq below it has arrived
	presence chan protocol.PresencePush
}

func newInbox() *inbox {
	return &inbox{got: map[string]int{}, seqs: map[string]map[int64]bool{}, next: map[string]int64{},
		presence: make(chan protocol.PresencePush, 64)}
}

// onPush is the client's push callback.
func (in *inbox) onPush(p client.Push) {
	switch b := p.Body.(type) {
	case *protocol.MsgPush:
		in.take(b.Message)
	case *protocol.PresencePush:
		select {
		case in.presence <- *b:
		default:
		}
	}
}

func (in *inbox) take(m protocol.Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got[m.Body]++
	seqs := in.seqs[m.Conv]
	if seqs == nil {
		seqs = map[int64]bool{}
		in.seqs[m.Conv] = seqs
		in.next[m.Conv] = 1
	}
	seqs[m.Seq] = true
	for seqs[in.next[m.Conv]] {
		delete(seqs, in.next[m.Conv])
		in.next[m.Conv]++
	}
}

// ackable returns, per conversation, the highest seq at and below which
// everything has arrived (receivers never send, so every seq of their
// conversations is one of theirs to receive).
func (in *inbox) ackable() map[string]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int64, len(in.next))
	for conv, n := range in.next {
		out[conv] = n - 1
	}
	return out
}

// count returns how many times body was delivered.
func (in *inbox) count(body string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.got[body]
}

// dups returns the bodies delivered more than once.
func (in *inbox) dups() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for b, n := range in.got {
		if n > 1 {
			out = append(out, b)
		}
	}
	return out
}

// tuser is a test account and its client.
type tuser struct {
	name string
	id   int64
	c    *client.Client
	in   *inbox
}

// newAccount registers name through any node of list.
func newAccount(t *testing.T, ctx context.Context, list, name string) *tuser {
	t.Helper()
	c, err := client.Dial(ctx, list, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.Register(ctx, name, "password-"+name, "")
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return &tuser{name: name, id: id, in: newInbox()}
}

// connectOn dials list until the client lands on node (Dial spreads
// clients over the list in turn) and logs in; reconnect makes it fail
// over when its node goes away.
func (u *tuser) connectOn(t *testing.T, ctx context.Context, list, node string, reconnect bool) {
	t.Helper()
	opts := client.Options{OnPush: u.in.onPush, Reconnect: reconnect, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	for range 8 {
		c, err := client.Dial(ctx, list, opts)
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr() != node {
			c.Close()
			continue
		}
		if _, err := c.Login(ctx, u.name, "password-"+u.name); err != nil {
			t.Fatalf("login %s: %v", u.name, err)
		}
		u.c = c
		t.Cleanup(func() { c.Close() })
		return
	}
	t.Fatalf("%s never landed on %s", u.name, node)
}

// befriend makes a and b friends.
func befriend(t *testing.T, ctx context.Context, a, b *tuser) {
	t.Helper()
	rid, err := a.c.FriendRequest(ctx, b.id, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.c.FriendRespond(ctx, rid, true); err != nil {
		t.Fatal(err)
	}
}

// ackLoop acks what each receiver has taken, in seq order, until ctx
// ends, so the backlog after a fail-over starts at the cursor (errors,
// such as a node shutting down, are retried on the next round).
func ackLoop(ctx context.Context, rs ...*tuser) {
	acked := make([]map[string]int64, len(rs))
	for i := range acked {
		acked[i] = map[string]int64{}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		for i, r := range rs {
			for conv, seq := range r.in.ackable() {
				if seq <= acked[i][conv] {
					continue
				}
				actx, cancel := context.WithTimeout(ctx, 2*time.Second)
				if r.c.Ack(actx, conv, seq) == nil {
					acked[i][conv] = seq
				}
				cancel()
			}
		}
	}
}

// sender sends numbered messages from u to "to", three in flight, until
// stop is closed, each retried by the SDK until acknowledged; acked lists
// the bodies the server acknowledged.
type sender struct {
	u, to  *tuser
	next   atomic.Int64
	mu     sync.Mutex
	acked  []string
	failed []error
}

func (s *sender) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { s.loop(stop) })
	}
	wg.Wait()
}

func (s *sender) loop(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		body := fmt.Sprintf("%s>%s #%d", s.u.name, s.to.name, s.next.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := s.u.c.SendMsg(ctx, protocol.MsgSendReq{ToUser: s.to.id, Body: body, ClientMsgID: body})
		cancel()
		s.mu.Lock()
		if err == nil {
			s.acked = append(s.acked, body)
		} else {
			s.failed = append(s.failed, err)
		}
		s.mu.Unlock()
	}
}

func (s *sender) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// eventually polls cond until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifyExactlyOnce checks that every acknowledged message reached its
// receiver once, after a catch-up sync of the receivers' conversations
// (what an application does after a fail-over), and that nothing reached
// anyone twice. It returns how many deliveries the catch-up added.
func verifyExactlyOnce(t *testing.T, ctx context.Context, ss []*sender) int {
	t.Helper()
	total := 0
	for _, s := range ss {
		total += s.ackedCount()
	}
	allIn := func() bool {
		for _, s := range ss {
			s.mu.Lock()
			acked := append([]string(nil), s.acked...)
			s.mu.Unlock()
			for _, b := range acked {
				if s.to.in.count(b) == 0 {
					return false
				}
			}
		}
		return true
	}
	// Pushes first: wait while they keep coming.
	deadline := time.Now().Add(20 * time.Second)
	for !allIn() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	synced := 0
	for _, s := range ss {
		conv := protocol.PrivateConv(s.u.id, s.to.id)
		// Pages of 500 seqs (seqs are dense): SyncNew returns only what
		// the client has not handed over yet.
		for after := int64(0); ; after += 500 {
			msgs, more, err := s.to.c.SyncNew(ctx, conv, after)
			if err != nil {
				t.Fatalf("catch-up sync of %s: %v", s.to.name, err)
			}
			for _, m := range msgs {
				s.to.in.take(m)
				synced++
			}
			if !more {
				break
			}
		}
	}
	for _, s := range ss {
		s.mu.Lock()
		for _, b := range s.acked {
			if n := s.to.in.count(b); n != 1 {
				t.Errorf("%q (acknowledged) delivered %d times to %s", b, n, s.to.name)
			}
		}
		s.mu.Unlock()
		if d := s.to.in.dups(); len(d) > 0 {
			t.Errorf("%s got duplicates: %v", s.to.name, d)
		}
	}
	t.Logf("%d acknowledged messages; %d of them delivered by the catch-up sync, the rest pushed", total, synced)
	return synced
}

// TestClusterSIGTERMHandOff: bob and carol are on node a, alice on b.
// Node a gets SIGTERM while alice and carol send to bob: a tells its
// clients (UNAVAILABLE, then the connection closes) and exits 0; bob and
// carol fail over to b, carol's sends in flight are retried there, and bob
// gets every acknowledged message of both exactly once. Dave, alice's
// friend on a who does not reconnect, is reported offline to her.
func TestClusterSIGTERMHandOff(t *testing.T) {
	dsn := mysqltest.DSN(t, "handoff")
	a, b := clustertest.StartPair(t, dsn)
	list := a.Addr + "," + b.Addr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	alice, bob, carol := newAccount(t, ctx, list, "alice"), newAccount(t, ctx, list, "bob"), newAccount(t, ctx, list, "carol")
	bob.connectOn(t, ctx, list, a.Addr, true)
	carol.connectOn(t, ctx, list, a.Addr, true)
	alice.connectOn(t, ctx, list, b.Addr, true)
	befriend(t, ctx, alice, bob)
	befriend(t, ctx, carol, bob)
	dave := newAccount(t, ctx, list, "dave")
	dave.connectOn(t, ctx, a.Addr, a.Addr, false)
	befriend(t, ctx, dave, alice)

	actx, astop := context.WithCancel(ctx)
	var ackers sync.WaitGroup
	ackers.Go(func() { ackLoop(actx, bob) })
	defer func() { astop(); ackers.Wait() }()
	ss := []*sender{{u: alice, to: bob}, {u: carol, to: bob}}
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for _, s := range ss {
		senders.Go(func() { s.run(stop) })
	}
	eventually(t, 20*time.Second, "messages flowing before the shutdown", func() bool {
		return ss[0].ackedCount() >= 20 && ss[1].ackedCount() >= 20
	})
	for len(alice.in.presence) > 0 {
		<-alice.in.presence // the setup's
	}
	if err := a.Signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("node a after SIGTERM: %v (want exit 0)", err)
	}
	before := []int{ss[0].ackedCount(), ss[1].ackedCount()}
	eventually(t, 20*time.Second, "bob and carol on node b, sending and receiving again", func() bool {
		return bob.c.Addr() == b.Addr && carol.c.Addr() == b.Addr &&
			bob.c.State() == client.StateConnected && carol.c.State() == client.StateConnected &&
			ss[0].ackedCount() >= before[0]+20 && ss[1].ackedCount() >= before[1]+20
	})
	close(stop)
	senders.Wait()
	for _, s := range ss {
		if len(s.failed) > 0 {
			t.Errorf("%s: %d sends failed, the first: %v", s.u.name, len(s.failed), s.failed[0])
		}
	}
	verifyExactlyOnce(t, ctx, ss)
	// a deleted its heartbeat key first: b took that as a goodbye and
	// told dave's friends, without waiting for a's death time.
	for offline := false; !offline; {
		select {
		case p := <-alice.in.presence:
			offline = p.UserID == dave.id && !p.Online
		case <-time.After(15 * time.Second):
			t.Fatal("dave, left behind on the stopped node, was never reported offline")
		}
	}
	b.Signal(t, syscall.SIGTERM)
}

// TestClusterKill9UnderLoad: six senders and six receivers spread over
// nodes a and b send 1:1 messages; node a is killed with SIGKILL in the
// middle. Every client that was on a fails over to b; every acknowledged
// message reaches its receiver exactly once (pushed, or by the catch-up
// sync after the fail-over); and a user of a who does not reconnect is
// reported offline to a friend on b within 15 s.
func TestClusterKill9UnderLoad(t *testing.T) {
	dsn := mysqltest.DSN(t, "kill9")
	a, b := clustertest.StartPair(t, dsn)
	list := a.Addr + "," + b.Addr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const pairs = 6
	var ss []*sender
	var receivers []*tuser
	nodes := []string{a.Addr, b.Addr}
	for p := range pairs {
		s := newAccount(t, ctx, list, "sender"+strconv.Itoa(p))
		r := newAccount(t, ctx, list, "receiver"+strconv.Itoa(p))
		// Senders and receivers on both nodes, pairs within a node and
		// across.
		s.connectOn(t, ctx, list, nodes[p%2], true)
		r.connectOn(t, ctx, list, nodes[(p/2)%2], true)
		befriend(t, ctx, s, r)
		ss = append(ss, &sender{u: s, to: r})
		receivers = append(receivers, r)
	}
	// loner is on a alone and does not reconnect; watcher on b is his friend.
	loner, watcher := newAccount(t, ctx, list, "loner"), newAccount(t, ctx, list, "watcher")
	loner.connectOn(t, ctx, a.Addr, a.Addr, false)
	watcher.connectOn(t, ctx, b.Addr, b.Addr, true)
	befriend(t, ctx, loner, watcher)
	onA := 0
	for _, s := range ss {
		for _, u := range []*tuser{s.u, s.to} {
			if u.c.Addr() == a.Addr {
				onA++
			}
		}
	}

	actx, astop := context.WithCancel(ctx)
	var ackers sync.WaitGroup
	ackers.Go(func() { ackLoop(actx, receivers...) })
	defer func() { astop(); ackers.Wait() }()
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for _, s := range ss {
		senders.Go(func() { s.run(stop) })
	}
	eventually(t, 20*time.Second, "every sender acknowledged before the kill", func() bool {
		for _, s := range ss {
			if s.ackedCount() < 20 {
				return false
			}
		}
		return true
	})
	// Drain presence noise from the setup: only what follows the kill counts.
	for len(watcher.in.presence) > 0 {
		<-watcher.in.presence
	}
	if err := a.Signal(t, syscall.SIGKILL); err == nil {
		t.Fatal("node a exited 0 after SIGKILL")
	}
	killed := time.Now()
	var offline atomic.Bool
	var presence sync.WaitGroup
	presence.Go(func() {
		deadline := time.After(15 * time.Second)
		for {
			select {
			case p := <-watcher.in.presence:
				if p.UserID == loner.id && !p.Online {
					offline.Store(true)
					t.Logf("loner reported offline %.1f s after the kill", time.Since(killed).Seconds())
					return
				}
			case <-deadline:
				return
			}
		}
	})
	before := make([]int, len(ss))
	for i, s := range ss {
		before[i] = s.ackedCount()
	}
	eventually(t, 20*time.Second, "every client on node b and every sender acknowledged again", func() bool {
		for i, s := range ss {
			for _, u := range []*tuser{s.u, s.to} {
				if u.c.Addr() != b.Addr || u.c.State() != client.StateConnected {
					return false
				}
			}
			if s.ackedCount() < before[i]+20 {
				return false
			}
		}
		return true
	})
	// The load goes on while b finds a dead and reaps its sessions.
	presence.Wait()
	close(stop)
	senders.Wait()
	for _, s := range ss {
		if len(s.failed) > 0 {
			t.Errorf("%s: %d sends failed, the first: %v", s.u.name, len(s.failed), s.failed[0])
		}
	}
	verifyExactlyOnce(t, ctx, ss)
	if !offline.Load() {
		t.Error("the loner of the killed node was not reported offline on node b within 15 s")
	}
	if onA == 0 {
		t.Fatal("no client was on the killed node")
	}
	if st := loner.c.State(); st != client.StateDisconnected {
		t.Errorf("loner's client state %v, want disconnected", st)
	}
}
