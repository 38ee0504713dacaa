package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// loginT logs c in as user, failing the test on an error.
func loginT(t *testing.T, c *Client, user, password string) {
	t.Helper()
	if _, err := c.Login(ctxT(t), user, password); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
}

// sendNumbered sends the messages "m<from>" through "m<to>" from c to
// user.
func sendNumbered(t *testing.T, c *Client, user int64, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := c.Send(ctxT(t), user, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func dialT(t *testing.T, addr string, opts Options) *Client {
	t.Helper()
	c, err := Dial(ctxT(t), addr, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recv waits up to 10s for a value on ch; failure names what did not
// happen.
func recv[T any](t *testing.T, ch <-chan T, failure string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal(failure)
	}
	var zero T
	return zero
}

// nextPush waits for the next push on c's channel.
func nextPush(t *testing.T, c *Client) Push {
	t.Helper()
	select {
	case p, ok := <-c.Pushes():
		if !ok {
			t.Fatal("pushes channel closed")
		}
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10s")
	}
	return Push{}
}

// nextMsg waits for the next msg push, skipping other pushes.
func nextMsg(t *testing.T, c *Client) protocol.Message {
	t.Helper()
	for {
		p := nextPush(t, c)
		if m, ok := p.Body.(*protocol.MsgPush); ok {
			return m.Message
		}
	}
}

// noMsg asserts that no msg push is waiting after the ping round trip (the
// server writes pushes before later replies on the same connection).
func noMsg(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case p := <-c.Pushes():
			if m, ok := p.Body.(*protocol.MsgPush); ok {
				t.Fatalf("unexpected message push %+v", m.Message)
			}
		default:
			return
		}
	}
}

func TestLoginSendReceive(t *testing.T) {
	s := newFakeServer(t)
	ctx := ctxT(t)
	a := dialT(t, s.addr(), Options{})
	b := dialT(t, s.addr(), Options{})
	if _, err := a.Register(ctx, "alice", "password1", ""); err != nil {
		t.Fatal(err)
	}
	bobID, err := b.Register(ctx, "bob", "password2", "Bob")
	if err != nil {
		t.Fatal(err)
	}
	loginT(t, a, "alice", "password1")
	loginT(t, b, "bob", "password2")
	if a.Token() == "" || a.UserID() == 0 {
		t.Fatalf("login did not keep the session: token %q id %d", a.Token(), a.UserID())
	}
	r, err := a.Send(ctx, bobID, "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || r.Conv != protocol.PrivateConv(a.UserID(), bobID) {
		t.Fatalf("send reply %+v", r)
	}
	m := nextMsg(t, b)
	if m.Body != "hello bob" || m.From != a.UserID() || m.Seq != 1 {
		t.Fatalf("bob got %+v", m)
	}
	if !b.Delivered(m.Conv, 1) || b.Delivered(m.Conv, 2) {
		t.Fatal("Delivered does not reflect what was pushed")
	}
	if !a.Delivered(r.Conv, r.Seq) {
		t.Fatal("own sent message not marked delivered")
	}
	if req := s.lastRequest(protocol.OpMsgSend); req == "" {
		t.Fatal("server saw no msg.send")
	}
}

func TestErrorReplyIsProtocolError(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	c := dialT(t, s.addr(), Options{})
	_, err := c.Login(ctxT(t), "alice", "wrong-password")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeBadCredentials {
		t.Fatalf("want BAD_CREDENTIALS *protocol.Error, got %v", err)
	}
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeBadCredentials}) {
		t.Fatal("errors.Is with the code does not match")
	}
	if c.Token() != "" {
		t.Fatal("failed login left a token")
	}
	// The connection stays usable after an error reply.
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestPipelinedConcurrentCalls(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	bob := s.addUser("bob", "password2")
	c := dialT(t, s.addr(), Options{})
	ctx := ctxT(t)
	loginT(t, c, "alice", "password1")
	const n = 200
	seqs := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			r, err := c.Send(ctx, bob, fmt.Sprintf("m%d", i))
			if err != nil {
				errs <- err
				return
			}
			seqs[i] = r.Seq
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, q := range seqs {
		if q < 1 || q > n || seen[q] {
			t.Fatalf("bad or repeated seq %d", q)
		}
		seen[q] = true
	}
	// Each reply reached its own caller: the stored body of each seq is
	// the text that caller sent.
	sync, err := c.Sync(ctx, protocol.PrivateConv(c.UserID(), bob), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[int64]string{}
	for _, m := range sync.Messages {
		bySeq[m.Seq] = m.Body
	}
	for i, q := range seqs {
		if bySeq[q] != fmt.Sprintf("m%d", i) {
			t.Fatalf("caller %d got seq %d holding %q", i, q, bySeq[q])
		}
	}
}

func TestCallTimeoutLeavesConnectionUsable(t *testing.T) {
	s := newFakeServer(t)
	s.noReply[protocol.OpGroupList] = true
	c := dialT(t, s.addr(), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.GroupList(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatalf("ping after a timed out call: %v", err)
	}
}

// TestCallOutOfTimeBeforeWriting: a call whose context ran out before its
// frame was written (a loaded machine, a long wait for the write lock)
// fails alone; nothing was sent, so the connection stays usable.
func TestCallOutOfTimeBeforeWriting(t *testing.T) {
	s := newFakeServer(t)
	c := dialT(t, s.addr(), Options{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := c.GroupList(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatalf("ping after a call that ran out of time: %v", err)
	}
}

func TestCloseFailsCallsAndClosesPushes(t *testing.T) {
	s := newFakeServer(t)
	s.noReply[protocol.OpGroupList] = true
	c := dialT(t, s.addr(), Options{})
	done := make(chan error, 1)
	go func() {
		_, err := c.GroupList(context.Background())
		done <- err
	}()
	// Wait until the request is on the server, then close.
	for s.lastRequest(protocol.OpGroupList) == "" {
		time.Sleep(time.Millisecond)
	}
	_ = c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending call: want ErrClosed, got %v", err)
	}
	if _, ok := <-c.Pushes(); ok {
		t.Fatal("pushes channel not closed")
	}
	if _, err := c.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after close: want ErrClosed, got %v", err)
	}
	if c.State() != StateClosed {
		t.Fatalf("state %v", c.State())
	}
}

func TestConnLostWithoutReconnect(t *testing.T) {
	s := newFakeServer(t)
	states := make(chan State, 4)
	c := dialT(t, s.addr(), Options{OnState: func(st State, _ error) { states <- st }})
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.dropAll()
	if st := <-states; st != StateDisconnected {
		t.Fatalf("state %v", st)
	}
	if _, err := c.Ping(ctxT(t)); !errors.Is(err, ErrConnLost) {
		t.Fatalf("want ErrConnLost, got %v", err)
	}
}

// TestReconnectResyncExactlyOnce: messages pushed but not acked before a
// disconnect are pushed again by the server after the token re-login; the
// client shows each message exactly once and misses none sent meanwhile.
func TestReconnectResyncExactlyOnce(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	bobID := s.addUser("bob", "password2")
	ctx := ctxT(t)
	opts := Options{Reconnect: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	a := dialT(t, s.addr(), opts)
	states := make(chan State, 16)
	bopts := opts
	bopts.OnState = func(st State, _ error) { states <- st }
	b := dialT(t, s.addr(), bopts)
	loginT(t, a, "alice", "password1")
	loginT(t, b, "bob", "password2")
	sendNumbered(t, a, bobID, 1, 3)
	var got []string
	for range 3 {
		m := nextMsg(t, b)
		got = append(got, m.Body)
	}
	conv := protocol.PrivateConv(a.UserID(), bobID)
	// Bob's application took only the first two.
	if err := b.Ack(ctx, conv, 2); err != nil {
		t.Fatal(err)
	}
	s.dropAll()
	if st := <-states; st != StateReconnecting {
		t.Fatalf("state %v, want reconnecting", st)
	}
	// Alice's send waits for her reconnect, then goes through.
	sendNumbered(t, a, bobID, 4, 5)
	if st := <-states; st != StateConnected {
		t.Fatalf("state %v, want connected", st)
	}
	for len(got) < 5 {
		got = append(got, nextMsg(t, b).Body)
	}
	noMsg(t, b)
	want := []string{"m1", "m2", "m3", "m4", "m5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bob saw %v, want %v", got, want)
	}
	if b.Session() == nil || b.Token() == "" {
		t.Fatal("re-login did not refresh the session")
	}
}

// TestSendRetriedAfterLostReply: the server stores a message but the
// connection breaks before the reply; Send retries with the same
// client_msg_id after the reconnect and the message exists once.
func TestSendRetriedAfterLostReply(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	bobID := s.addUser("bob", "password2")
	ctx := ctxT(t)
	a := dialT(t, s.addr(), Options{Reconnect: true, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	loginT(t, a, "alice", "password1")
	s.mu.Lock()
	s.dropNextSend = true
	s.mu.Unlock()
	r, err := a.Send(ctx, bobID, "once")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 {
		t.Fatalf("seq %d", r.Seq)
	}
	s.mu.Lock()
	n := len(s.msgs[r.Conv])
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("stored %d messages, want 1", n)
	}
}

func TestBadTokenStopsReconnect(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	states := make(chan error, 8)
	c := dialT(t, s.addr(), Options{Reconnect: true, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		OnState: func(st State, err error) {
			if st == StateDisconnected {
				states <- err
			}
		}})
	loginT(t, c, "alice", "password1")
	s.mu.Lock()
	clear(s.tokens) // the server forgot the session (token expired)
	s.mu.Unlock()
	s.dropAll()
	if err := recv(t, states, "client did not give up on a refused token"); protocol.CodeOf(err) != protocol.CodeBadCredentials {
		t.Fatalf("gave up with %v", err)
	}
	if c.Token() != "" {
		t.Fatal("refused token kept")
	}
	// Calls fail at once instead of waiting for a reconnect that will not
	// come.
	if _, err := c.Ping(ctxT(t)); !errors.Is(err, ErrConnLost) {
		t.Fatalf("call after giving up: %v", err)
	}
}

// TestWaitingCallFailsWhenReconnectGivesUp: a call made while the client
// is reconnecting waits; when the reconnect gives up (token refused) it
// fails with ErrConnLost, not at its own deadline.
func TestWaitingCallFailsWhenReconnectGivesUp(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	gate := make(chan struct{})
	var dials atomic.Int32
	d := net.Dialer{}
	c := dialT(t, s.addr(), Options{Reconnect: true, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) > 1 {
				<-gate // hold the reconnect until the call waits
			}
			return d.DialContext(ctx, network, addr)
		}})
	loginT(t, c, "alice", "password1")
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
	s.dropAll()
	for c.State() != StateReconnecting {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := c.Ping(ctx)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the call reach its wait
	close(gate)
	if err := recv(t, done, "the waiting call was not released"); !errors.Is(err, ErrConnLost) {
		t.Fatalf("waiting call: %v", err)
	}
}

func TestKickedDoesNotReconnect(t *testing.T) {
	s := newFakeServer(t)
	id := s.addUser("alice", "password1")
	states := make(chan error, 8)
	c := dialT(t, s.addr(), Options{Reconnect: true, MinBackoff: time.Millisecond,
		OnState: func(st State, err error) {
			if st == StateDisconnected {
				states <- err
			}
		}})
	loginT(t, c, "alice", "password1")
	s.push(id, protocol.OpKicked, &protocol.KickedPush{Reason: "login_elsewhere", Addr: "10.0.0.2:5000"})
	p := nextPush(t, c)
	if k, ok := p.Body.(*protocol.KickedPush); !ok || k.Reason != "login_elsewhere" {
		t.Fatalf("push %+v", p)
	}
	s.dropAll()
	if err := recv(t, states, "no disconnected state"); !errors.Is(err, ErrKicked) {
		t.Fatalf("disconnected with %v, want ErrKicked", err)
	}
}

func TestPushCallbackAndTypedBodies(t *testing.T) {
	s := newFakeServer(t)
	id := s.addUser("alice", "password1")
	got := make(chan Push, 8)
	c := dialT(t, s.addr(), Options{OnPush: func(p Push) { got <- p }})
	if c.Pushes() != nil {
		t.Fatal("Pushes channel exists although OnPush is set")
	}
	loginT(t, c, "alice", "password1")
	s.push(id, protocol.OpPresence, &protocol.PresencePush{UserID: 7, Online: true})
	s.push(id, protocol.OpFriendRequested, &protocol.FriendRequestedPush{RequestID: 3,
		From: protocol.Profile{UserID: 7, Username: "carol"}, Note: "hi"})
	s.push(id, protocol.Op(0x1fff), map[string]int{"x": 1})
	p := <-got
	if pp, ok := p.Body.(*protocol.PresencePush); !ok || pp.UserID != 7 || !pp.Online {
		t.Fatalf("presence push %+v", p)
	}
	p = <-got
	if fr, ok := p.Body.(*protocol.FriendRequestedPush); !ok || fr.From.Username != "carol" || fr.RequestID != 3 {
		t.Fatalf("friend.requested push %+v", p)
	}
	p = <-got
	if raw, ok := p.Body.([]byte); !ok || string(raw) != `{"x":1}` || p.Op != 0x1fff {
		t.Fatalf("unknown push %+v", p)
	}
}

func TestRoomMediaRoundTrip(t *testing.T) {
	s := newFakeServer(t)
	c := dialT(t, s.addr(), Options{})
	if err := c.RoomMedia(ctxT(t), 42, []byte("frame-bytes")); err != nil {
		t.Fatal(err)
	}
	p := nextPush(t, c)
	rm, ok := p.Body.(*RoomMedia)
	if !ok || rm.RoomID != 42 || rm.From != 99 || string(rm.Payload) != "frame-bytes" || p.Op != protocol.OpRoomMediaPush {
		t.Fatalf("media push %+v", p)
	}
}

// TestPushBackpressureKeepsOrder: with a one-slot channel the reader waits
// for the application; nothing is dropped and order holds.
func TestPushBackpressureKeepsOrder(t *testing.T) {
	s := newFakeServer(t)
	id := s.addUser("alice", "password1")
	c := dialT(t, s.addr(), Options{PushBuffer: 1})
	loginT(t, c, "alice", "password1")
	const n = 50
	for i := 1; i <= n; i++ {
		s.push(id, protocol.OpPresence, &protocol.PresencePush{UserID: int64(i), Online: true})
	}
	for i := 1; i <= n; i++ {
		p := nextPush(t, c)
		if pp := p.Body.(*protocol.PresencePush); pp.UserID != int64(i) {
			t.Fatalf("push %d carried user %d", i, pp.UserID)
		}
	}
}

func TestServerFrameTooLargeClosesConnection(t *testing.T) {
	s := newFakeServer(t)
	id := s.addUser("alice", "password1")
	states := make(chan error, 2)
	c := dialT(t, s.addr(), Options{MaxFrameBody: 64, OnState: func(st State, err error) {
		if st == StateDisconnected {
			states <- err
		}
	}})
	if _, err := c.Login(ctxT(t), "alice", "password1"); err == nil || !errors.Is(err, ErrConnLost) {
		// The login reply itself is over 64 bytes: the connection ends.
		t.Fatalf("want ErrConnLost for an oversized reply, got %v", err)
	}
	_ = id
	if err := <-states; !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Fatalf("disconnected with %v", err)
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	tr.seed("c", 2)
	cases := []struct {
		seq  int64
		want bool
	}{{1, false}, {2, false}, {3, true}, {3, false}, {5, true}, {4, true}, {5, false}, {6, true}}
	for _, c := range cases {
		if got := tr.mark("c", c.seq); got != c.want {
			t.Fatalf("mark %d = %v, want %v", c.seq, got, c.want)
		}
	}
	if cs := tr.convs["c"]; cs.base != 6 || len(cs.above) != 0 {
		t.Fatalf("not compacted: base %d above %v", cs.base, cs.above)
	}
	tr.mark("c", 9)
	tr.seed("c", 8)
	if !tr.seen("c", 9) || tr.seen("c", 10) || tr.convs["c"].base != 9 {
		t.Fatalf("seed did not absorb: %+v", tr.convs["c"])
	}
	if !tr.mark("other", 1) {
		t.Fatal("conversations are not independent")
	}
}

func TestBackoffBounds(t *testing.T) {
	c := &Client{opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for n := range 20 {
		d := c.backoff(n)
		step := min(100*time.Millisecond<<min(n, 10), time.Second)
		if d < step/2 || d > step {
			t.Fatalf("attempt %d: %v outside [%v, %v]", n, d, step/2, step)
		}
	}
}

// TestRetriedSendNotPushedBack: the reply of alice's send is lost with the
// connection; her ack cursor is below the new message, so the re-login
// backlog pushes it back to her. The application sees it once, as the
// retried send's reply, and sees bob's unacked message once.
func TestRetriedSendNotPushedBack(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	s.addUser("bob", "password2")
	ctx := ctxT(t)
	a := dialT(t, s.addr(), Options{Reconnect: true, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	b := dialT(t, s.addr(), Options{})
	loginT(t, a, "alice", "password1")
	loginT(t, b, "bob", "password2")
	if _, err := b.Send(ctx, a.UserID(), "from bob"); err != nil {
		t.Fatal(err)
	}
	if m := nextMsg(t, a); m.Body != "from bob" {
		t.Fatalf("alice got %+v", m)
	}
	// alice does not ack seq 1, so her send (seq 2) leaves her cursor at 0.
	s.mu.Lock()
	s.dropNextSend = true
	s.mu.Unlock()
	r, err := a.Send(ctx, b.UserID(), "from alice")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 2 {
		t.Fatalf("seq %d", r.Seq)
	}
	noMsg(t, a)
}

// TestConnectionDeadOnArrival: the server closes the connection at once,
// before Dial has published it; the loss is reported all the same.
func TestConnectionDeadOnArrival(t *testing.T) {
	// Hold the publication until the reader has seen the connection end.
	testHookBeforePublish = func(cn *conn) { <-cn.done }
	defer func() { testHookBeforePublish = nil }()
	for range 3 {
		states := make(chan State, 4)
		c, err := Dial(context.Background(), "pipe", Options{
			PingInterval: -1,
			OnState:      func(s State, _ error) { states <- s },
			Dial: func(context.Context, string, string) (net.Conn, error) {
				srv, cli := net.Pipe()
				_ = srv.Close()
				return cli, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if s := recv(t, states, "the dead connection was never reported"); s != StateDisconnected {
			t.Fatalf("state %v", s)
		}
		if _, err := c.Ping(context.Background()); !errors.Is(err, ErrConnLost) {
			t.Fatalf("ping: %v", err)
		}
		_ = c.Close()
	}
}

// TestSyncNewSkipsDelivered: SyncNew returns only messages not yet handed
// to the application and marks them, so a later push of one is dropped.
func TestSyncNewSkipsDelivered(t *testing.T) {
	s := newFakeServer(t)
	s.addUser("alice", "password1")
	bobID := s.addUser("bob", "password2")
	ctx := ctxT(t)
	a := dialT(t, s.addr(), Options{})
	b := dialT(t, s.addr(), Options{})
	loginT(t, a, "alice", "password1")
	loginT(t, b, "bob", "password2")
	sendNumbered(t, a, bobID, 1, 3)
	first := nextMsg(t, b) // m1 pushed and delivered
	msgs, more, err := b.SyncNew(ctx, first.Conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Body)
	}
	// m2 and m3 may already be marked by their pushes in flight; none of
	// the returned ones may be m1, and every message is delivered once
	// across SyncNew and the pushes.
	seen := map[string]int{"m1": 1}
	for _, body := range bodies {
		seen[body]++
	}
	noMsgDrain := func() {
		if _, err := b.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case p := <-b.Pushes():
				if m, ok := p.Body.(*protocol.MsgPush); ok {
					seen[m.Message.Body]++
				}
			default:
				return
			}
		}
	}
	noMsgDrain()
	if more || seen["m1"] != 1 || seen["m2"] != 1 || seen["m3"] != 1 {
		t.Fatalf("deliveries %v (more %v)", seen, more)
	}
}
