package service

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/rs/zerolog"
)

// syncWriter is a zerolog sink the test can read while the server logs.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestPipelinedLoginThenRequest(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	name := uniqueName("pipe")
	e.register(name)
	c := e.dial()
	// login and friend.list in one write: the second must see the session.
	_, ch1 := c.send(protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword})
	_, ch2 := c.send(protocol.OpFriendList, struct{}{})
	var lr protocol.LoginResp
	if code := c.decode(c.wait(protocol.OpLogin, ch1), &lr); code != protocol.CodeOK {
		t.Fatalf("login %s", code)
	}
	if code := c.decode(c.wait(protocol.OpFriendList, ch2), nil); code != protocol.CodeOK {
		t.Fatalf("pipelined friend.list after login: %s", code)
	}
}

func TestPanicRecovery(t *testing.T) {
	logs := &syncWriter{}
	e := newEnv(t, sqliteBackend, func(c *Config) { c.Logger = zerolog.New(logs) })
	e.srv.setTestHook(func(op protocol.Op) {
		if op == protocol.OpFriendList {
			panic("injected failure")
		}
	})
	victim, bystander := e.user("panic"), e.user("calm")
	var st protocol.Status
	victim.must(protocol.CodeInternal, protocol.OpFriendList, struct{}{}, &st)
	if !strings.Contains(st.Message, "correlation id ") {
		t.Fatalf("INTERNAL message %q", st.Message)
	}
	corr := st.Message[strings.LastIndex(st.Message, " ")+1:]
	victim.closed()
	bystander.must(protocol.CodeOK, protocol.OpConvList, struct{}{}, nil)
	out := logs.String()
	if !strings.Contains(out, `"corr":"`+corr+`"`) || !strings.Contains(out, "injected failure") || !strings.Contains(out, `"op":"friend.list"`) {
		t.Fatalf("panic not logged with its correlation id:\n%s", out)
	}
	if strings.Contains(out, testPassword) || strings.Contains(out, victim.token) {
		t.Fatal("log contains a password or token")
	}
}

func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, sqliteBackend, func(c *Config) { c.IdleTimeout = time.Second })
	idle := e.dial()
	busy := e.dial()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				busy.send(protocol.OpPing, struct{}{})
			}
		}
	})
	idle.closed()
	// The idle one is gone; the one sending frames is still served.
	busy.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
	close(stop)
	wg.Wait()
}

func TestShutdownFinishesInFlightSends(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	a, bb := e.user("sd"), e.user("se")
	befriend(t, a, bb)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.srv.setTestHook(func(op protocol.Op) {
		if op == protocol.OpMsgSend {
			once.Do(func() { close(entered) })
			<-release
		}
	})
	_, sendCh := a.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Body: "in flight", ClientMsgID: "f1"})
	<-entered
	done := make(chan error, 1)
	srv := e.srv
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	for !srv.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	if srv.Ready() {
		t.Fatal("ready while shutting down")
	}
	bb.must(protocol.CodeUnavailable, protocol.OpConvList, struct{}{}, nil)
	// New connections are not served any more.
	late := e.dial()
	late.closed()
	close(release)
	var r protocol.MsgSendResp
	if code := a.decode(a.wait(protocol.OpMsgSend, sendCh), &r); code != protocol.CodeOK || r.Seq != 1 {
		t.Fatalf("in-flight send: %s %+v", code, r)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	a.closed()
	bb.closed()
	e.srv = nil // already shut down
	e.restart()
	b2, lr := e.login(lr0(t, e, bb.userID), "")
	_ = lr
	var mp protocol.MsgPush
	b2.expect(protocol.OpMsgPush, &mp)
	if mp.Message.Body != "in flight" {
		t.Fatalf("after restart %+v", mp.Message)
	}
}

func (s *Server) setTestHook(f func(protocol.Op)) { s.testHook.Store(&f) }

// lr0 returns the username of a user id.
func lr0(t *testing.T, e *env, id int64) string {
	u, err := e.st.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func TestLoginBacklogThenLiveInOrder(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	a, b0, bn := e.offlineFriends("bl", "bm")
	const offline, live = 40, 40
	for i := 1; i <= offline; i++ {
		send(t, a, &protocol.MsgSendReq{ToUser: b0.userID, Body: fmt.Sprint(i), ClientMsgID: fmt.Sprint(i)})
	}
	// Keep sending while b logs in: the backlog and live pushes must
	// interleave into one gapless, duplicate-free sequence.
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := offline + 1; i <= offline+live; i++ {
			a.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: b0.userID, Body: fmt.Sprint(i), ClientMsgID: fmt.Sprint(i)})
			time.Sleep(time.Millisecond)
		}
	}()
	b, _ := e.login(bn, "")
	for want := int64(1); want <= offline+live; want++ {
		var mp protocol.MsgPush
		b.expect(protocol.OpMsgPush, &mp)
		if mp.Message.Seq != want {
			t.Fatalf("got seq %d, want %d", mp.Message.Seq, want)
		}
	}
	<-sent
	b.noPush()
}

func TestConcurrentSendersKeepSeqOrder(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	owner := e.user("cs")
	senders := []*tclient{e.user("s1"), e.user("s2"), e.user("s3"), e.user("s4")}
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "busy"}, &g)
	gid := g.Group.GroupID
	for _, s := range senders {
		s.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: gid}, nil)
	}
	owner.drain()
	for _, s := range senders {
		s.drain()
	}
	const each = 30
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Go(func() {
			chs := make([]chan frame, each)
			for k := range each {
				_, chs[k] = s.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: fmt.Sprint(i, "-", k)})
			}
			for _, ch := range chs {
				<-ch
			}
		})
	}
	wg.Wait()
	for want := int64(1); want <= int64(each*len(senders)); want++ {
		var mp protocol.MsgPush
		owner.waitFor(protocol.OpMsgPush, &mp)
		if mp.Message.Seq != want {
			t.Fatalf("owner got seq %d, want %d", mp.Message.Seq, want)
		}
	}
}

// rawConn is a client that reads only when told to (a slow consumer).
type rawConn struct {
	nc net.Conn
}

func (r rawConn) writeFrame(t *testing.T, op protocol.Op, reqID uint32, body []byte) {
	t.Helper()
	if _, err := r.nc.Write(protocol.AppendFrame(nil, op, reqID, body)); err != nil {
		t.Fatal(err)
	}
}

func (r rawConn) readFrame() (frame, error) {
	hdr := make([]byte, protocol.HeaderSize)
	if _, err := io.ReadFull(r.nc, hdr); err != nil {
		return frame{}, err
	}
	f := frame{op: protocol.Op(binary.BigEndian.Uint16(hdr[4:])), reqID: binary.BigEndian.Uint32(hdr[6:])}
	f.body = make([]byte, binary.BigEndian.Uint32(hdr)-6)
	_, err := io.ReadFull(r.nc, f.body)
	return f, err
}

func TestSlowReceiverLosesMediaNotChat(t *testing.T) {
	e := newEnv(t, sqliteBackend, func(c *Config) { c.MaxOutbound = 512 << 10 })
	sender := e.user("media")
	var cr protocol.RoomCreateResp
	sender.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{}, &cr)

	name := uniqueName("slow")
	e.register(name)
	nc, err := net.Dial("tcp", e.srv.ChatAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	slow := rawConn{nc}
	body, _ := protocol.Marshal(&protocol.LoginReq{Username: name, Password: testPassword})
	slow.writeFrame(t, protocol.OpLogin, 1, body)
	body, _ = protocol.Marshal(&protocol.RoomIDReq{RoomID: cr.RoomID})
	slow.writeFrame(t, protocol.OpRoomJoin, 2, body)
	for got := 0; got < 2; {
		f, err := slow.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.reqID != 0 {
			got++
		}
	}
	sender.expect(protocol.OpRoomEvent, nil)

	// The slow client stops reading; the sender streams 24 MiB of media.
	dropsBefore := e.srv.ReactorStats().DroppedLossy
	payload := make([]byte, 32<<10)
	const frames = 768
	var media []byte
	for range 16 {
		media = protocol.AppendRoomMediaFrame(media, 0, cr.RoomID, payload)
	}
	for range frames / 16 {
		if _, err := sender.nc.Write(media); err != nil {
			t.Fatal(err)
		}
	}
	sender.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: cr.RoomID, Body: "chat still arrives"}, nil)
	if e.srv.ReactorStats().DroppedLossy == dropsBefore {
		t.Fatal("no media dropped for a receiver that does not read")
	}
	// Now read everything: the chat line is there, media was cut, the
	// connection was never closed as a slow consumer.
	mediaGot := 0
	_ = nc.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		f, err := slow.readFrame()
		if err != nil {
			t.Fatalf("slow receiver lost its connection: %v (media frames read %d)", err, mediaGot)
		}
		if f.op == protocol.OpRoomMediaPush {
			mediaGot++
			continue
		}
		if f.op == protocol.OpRoomSaid {
			var said protocol.RoomSaidPush
			if err := protocol.Unmarshal(f.body, &said); err != nil || said.Body != "chat still arrives" {
				t.Fatalf("room.said %q %v", f.body, err)
			}
			break
		}
	}
	if mediaGot >= frames {
		t.Fatalf("got all %d media frames: nothing dropped", mediaGot)
	}
	t.Logf("slow receiver got %d of %d media frames before the chat line", mediaGot, frames)
}

// TestLoginBacklogRespectsOutboundLimit sends a backlog several times the
// connection's outbound limit: the login worker must pace it instead of
// tripping the slow-consumer close.
func TestLoginBacklogRespectsOutboundLimit(t *testing.T) {
	e := newEnv(t, sqliteBackend, func(c *Config) { c.MaxOutbound = 64 << 10; c.MsgRate, c.MsgBurst = 1e6, 1e6 })
	a, b0, bn := e.offlineFriends("ob", "oc")
	const n = 100 // 100 × 4 KiB = 400 KiB, over 6× the limit
	body := strings.Repeat("b", 4<<10)
	for i := 1; i <= n; i++ {
		send(t, a, &protocol.MsgSendReq{ToUser: b0.userID, Body: body, ClientMsgID: fmt.Sprint(i)})
	}
	b, _ := e.login(bn, "")
	for want := int64(1); want <= n; want++ {
		var mp protocol.MsgPush
		b.expect(protocol.OpMsgPush, &mp)
		if mp.Message.Seq != want {
			t.Fatalf("seq %d want %d", mp.Message.Seq, want)
		}
	}
	b.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
}

// TestShutdownBoundedByContext: a request that never finishes cannot hold
// Shutdown past its context.
func TestShutdownBoundedByContext(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	stuck, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.srv.setTestHook(func(op protocol.Op) {
		if op == protocol.OpConvList {
			once.Do(func() { close(stuck) })
			<-release
		}
	})
	defer close(release)
	c := e.user("stuck")
	c.send(protocol.OpConvList, struct{}{})
	<-stuck
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("shutdown with a stuck request: %v", err)
	}
	c.closed()
}

// TestLoginBacklogCap: at most PushBacklog missed messages per
// conversation are pushed after login; the rest come from msg.sync.
func TestLoginBacklogCap(t *testing.T) {
	e := newEnv(t, sqliteBackend, func(c *Config) { c.Limits.PushBacklog = 5 })
	a, b0, bn := e.offlineFriends("cap", "cbp")
	for i := 1; i <= 8; i++ {
		send(t, a, &protocol.MsgSendReq{ToUser: b0.userID, Body: fmt.Sprint(i), ClientMsgID: fmt.Sprint(i)})
	}
	b, lr := e.login(bn, "")
	if len(lr.Convs) != 1 || lr.Convs[0].LastSeq-lr.Convs[0].AckSeq != 8 {
		t.Fatalf("login convs %+v", lr.Convs)
	}
	for want := int64(1); want <= 5; want++ {
		var mp protocol.MsgPush
		b.expect(protocol.OpMsgPush, &mp)
		if mp.Message.Seq != want {
			t.Fatalf("seq %d want %d", mp.Message.Seq, want)
		}
	}
	b.noPush()
	var sr protocol.MsgSyncResp
	b.must(protocol.CodeOK, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: lr.Convs[0].Conv, AfterSeq: 5}, &sr)
	if len(sr.Messages) != 3 || sr.Messages[0].Seq != 6 || sr.More {
		t.Fatalf("sync rest %+v", sr)
	}
}
