package client_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/discovery"
	"github.com/chatd/chatd/service/servicetest"
)

// startChatd runs a real chatd in-process, with its file port, and
// returns its chat address.
func startChatd(t *testing.T) string {
	t.Helper()
	return servicetest.Start(t, servicetest.WithFiles(), servicetest.WithLogLevel(zerolog.WarnLevel)).ChatAddr
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// user is a logged-in client of the real server.
type user struct {
	*client.Client
	id int64
}

func newUser(t testing.TB, addr, name string, opts client.Options) *user {
	t.Helper()
	ctx := testCtx(t)
	c, err := client.Dial(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	id, err := c.Register(ctx, name, "password-"+name, "")
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	if _, err := c.Login(ctx, name, "password-"+name); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return &user{Client: c, id: id}
}

// waitPush waits for the first push of type T satisfying ok.
func waitPush[T any](t *testing.T, u *user, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case p, open := <-u.Pushes():
			if !open {
				t.Fatal("pushes closed")
			}
			if v, is := p.Body.(T); is && (ok == nil || ok(v)) {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T push within 20s", zero)
		}
	}
}

func befriend(t *testing.T, a, b *user) {
	t.Helper()
	ctx := testCtx(t)
	reqID, err := a.FriendRequest(ctx, b.id, "hi")
	if err != nil {
		t.Fatal(err)
	}
	fr := waitPush(t, b, func(p *protocol.FriendRequestedPush) bool { return p.RequestID == reqID })
	if fr.From.UserID != a.id || fr.Note != "hi" {
		t.Fatalf("friend.requested %+v", fr)
	}
	if err := b.FriendRespond(ctx, reqID, true); err != nil {
		t.Fatal(err)
	}
	resp := waitPush(t, a, func(p *protocol.FriendRespondedPush) bool { return p.RequestID == reqID })
	if !resp.Accepted || resp.By.UserID != b.id {
		t.Fatalf("friend.responded %+v", resp)
	}
}

// TestChatdFriendsMessagesGroupsRooms walks the main flows against the
// real server.
func TestChatdFriendsMessagesGroupsRooms(t *testing.T) {
	addr := startChatd(t)
	ctx := testCtx(t)
	alice := newUser(t, addr, "alice", client.Options{})
	bob := newUser(t, addr, "bob", client.Options{})

	// Not friends yet: FORBIDDEN comes back as *protocol.Error.
	if _, err := alice.Send(ctx, bob.id, "too early"); protocol.CodeOf(err) != protocol.CodeForbidden {
		t.Fatalf("send to a stranger: %v", err)
	}
	found, err := alice.SearchUsers(ctx, "bo")
	if err != nil || len(found) != 1 || found[0].UserID != bob.id {
		t.Fatalf("search: %v %+v", err, found)
	}
	befriend(t, alice, bob)
	friends, err := alice.Friends(ctx)
	if err != nil || len(friends) != 1 || friends[0].Profile.UserID != bob.id || !friends[0].Online {
		t.Fatalf("friends: %v %+v", err, friends)
	}

	sent, err := alice.Send(ctx, bob.id, "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	m := waitPush(t, bob, func(p *protocol.MsgPush) bool { return true }).Message
	if m.Body != "hello bob" || m.From != alice.id || m.Seq != sent.Seq || m.Conv != sent.Conv {
		t.Fatalf("bob got %+v for %+v", m, sent)
	}
	if err := bob.Ack(ctx, m.Conv, m.Seq); err != nil {
		t.Fatal(err)
	}
	if err := bob.Read(ctx, m.Conv, m.Seq); err != nil {
		t.Fatal(err)
	}
	rr := waitPush(t, alice, func(p *protocol.ReadReceiptPush) bool { return true })
	if rr.Conv != m.Conv || rr.Seq != m.Seq || rr.UserID != bob.id {
		t.Fatalf("read receipt %+v", rr)
	}
	hist, err := bob.Sync(ctx, m.Conv, 0, 0)
	if err != nil || len(hist.Messages) != 1 || hist.More {
		t.Fatalf("sync: %v %+v", err, hist)
	}

	g, err := alice.GroupCreate(ctx, "team", []int64{bob.id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendTo(ctx, g.GroupID, "hello team"); err != nil {
		t.Fatal(err)
	}
	gm := waitPush(t, bob, func(p *protocol.MsgPush) bool { return p.Message.Conv == protocol.GroupConv(g.GroupID) })
	if gm.Message.Body != "hello team" {
		t.Fatalf("group message %+v", gm)
	}
	groups, err := bob.GroupList(ctx)
	if err != nil || len(groups) != 1 || groups[0].MemberCount != 2 {
		t.Fatalf("groups %v %+v", err, groups)
	}

	room, err := alice.RoomCreate(ctx, "standup")
	if err != nil {
		t.Fatal(err)
	}
	members, err := bob.RoomJoin(ctx, room)
	if err != nil || len(members) != 2 {
		t.Fatalf("room join: %v %+v", err, members)
	}
	// A joiner learns the room's name from the join reply (1.1), and
	// pages through its members.
	carolC := newUser(t, addr, "carol", client.Options{})
	info, err := carolC.RoomJoinInfo(ctx, room)
	if err != nil || info.Room == nil || info.Room.Name != "standup" || info.Room.MemberCount != 3 || len(info.Members) != 3 {
		t.Fatalf("room join info: %v %+v", err, info)
	}
	page, err := carolC.RoomMembers(ctx, room, alice.id, 1)
	if err != nil || len(page.Members) != 1 || page.Members[0].UserID != bob.id || !page.More {
		t.Fatalf("room members after alice, limit 1: %v %+v", err, page)
	}
	if err := carolC.RoomLeave(ctx, room); err != nil {
		t.Fatal(err)
	}
	if err := bob.RoomSay(ctx, room, "morning"); err != nil {
		t.Fatal(err)
	}
	said := waitPush(t, alice, func(p *protocol.RoomSaidPush) bool { return true })
	if said.Body != "morning" || said.From != bob.id || said.RoomID != room {
		t.Fatalf("room.said %+v", said)
	}
	if err := bob.RoomMedia(ctx, room, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	media := waitPush(t, alice, func(p *client.RoomMedia) bool { return true })
	if media.From != bob.id || string(media.Payload) != "\x01\x02\x03" {
		t.Fatalf("media %+v", media)
	}

	sig := "on holiday"
	p, err := bob.UpdateProfile(ctx, protocol.ProfileUpdateReq{Signature: &sig})
	if err != nil || p.Signature != sig {
		t.Fatalf("update profile: %v %+v", err, p)
	}
	pc := waitPush(t, alice, func(p *protocol.ProfileChangedPush) bool { return p.Profile.UserID == bob.id })
	if pc.Profile.Signature != sig {
		t.Fatalf("profile.changed %+v", pc)
	}
}

// cutDialer remembers the connections it made so the test can break them
// from the client side, as a network failure would.
type cutDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *cutDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *cutDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
}

// TestChatdReconnectResync: bob's connection breaks after he has seen
// three messages but acked two; alice sends two more meanwhile. After the
// automatic token re-login the server pushes everything above the ack
// cursor; bob's application sees each message exactly once.
func TestChatdReconnectResync(t *testing.T) {
	addr := startChatd(t)
	ctx := testCtx(t)
	alice := newUser(t, addr, "alice", client.Options{})
	d := &cutDialer{}
	states := make(chan client.State, 16)
	bob := newUser(t, addr, "bob", client.Options{Reconnect: true, Dial: d.dial,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnState: func(s client.State, _ error) { states <- s }})
	befriend(t, alice, bob)
	var got []string
	for i := 1; i <= 3; i++ {
		if _, err := alice.Send(ctx, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
		got = append(got, waitPush(t, bob, func(*protocol.MsgPush) bool { return true }).Message.Body)
	}
	conv := protocol.PrivateConv(alice.id, bob.id)
	if err := bob.Ack(ctx, conv, 2); err != nil {
		t.Fatal(err)
	}
	d.cut()
	if s := <-states; s != client.StateReconnecting {
		t.Fatalf("state %v", s)
	}
	for i := 4; i <= 5; i++ {
		if _, err := alice.Send(ctx, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if s := <-states; s != client.StateConnected {
		t.Fatalf("state %v", s)
	}
	for len(got) < 5 {
		got = append(got, waitPush(t, bob, func(*protocol.MsgPush) bool { return true }).Message.Body)
	}
	// Anything still queued would be a duplicate; a ping round trip
	// flushes pushes sent before its reply.
	if _, err := bob.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case p := <-bob.Pushes():
			if m, ok := p.Body.(*protocol.MsgPush); ok {
				t.Fatalf("duplicate or unexpected message %+v", m.Message)
			}
			continue
		default:
		}
		break
	}
	if fmt.Sprint(got) != "[m1 m2 m3 m4 m5]" {
		t.Fatalf("bob saw %v", got)
	}
	// Bob's own send works on the new connection.
	if _, err := bob.Send(ctx, alice.id, "back"); err != nil {
		t.Fatal(err)
	}
}

// gateDialer holds reconnect dials until the test opens the gate, so that
// messages pile up while the client is away.
type gateDialer struct {
	cutDialer
	gate chan struct{}
}

func (d *gateDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return d.cutDialer.dial(ctx, network, addr)
}

// TestChatdReconnectFillsBeyondBacklog: while bob is away, more messages
// arrive than the server pushes after a login (500 per conversation).
// After the automatic re-login bob's application must still get every one
// of them exactly once: the client fetches the part the server does not
// push. (Before, the ones between cursor+500 and the last seq at login
// were never delivered: lost messages after a chatd kill -9 in chatbench.)
func TestChatdReconnectFillsBeyondBacklog(t *testing.T) {
	addr := servicetest.Start(t, servicetest.WithLogLevel(zerolog.WarnLevel),
		servicetest.WithConfig(func(c *service.Config) { c.MsgRate, c.MsgBurst = 1e6, 1e6 })).ChatAddr
	ctx := testCtx(t)
	alice := newUser(t, addr, "alice", client.Options{})
	d := &gateDialer{gate: make(chan struct{})}
	close(d.gate) // the first dial goes through
	states := make(chan client.State, 16)
	bob := newUser(t, addr, "bob", client.Options{Reconnect: true, Dial: d.dial,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnState: func(s client.State, _ error) { states <- s }})
	befriend(t, alice, bob)
	d.mu.Lock()
	d.gate = make(chan struct{})
	d.mu.Unlock()
	d.cut()
	if s := <-states; s != client.StateReconnecting {
		t.Fatalf("state %v", s)
	}
	const n = 620 // more than the 500 pushed after login, less than two sync pages
	for i := 1; i <= n; i++ {
		if _, err := alice.Send(ctx, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	d.mu.Lock()
	close(d.gate)
	d.mu.Unlock()
	if s := <-states; s != client.StateConnected {
		t.Fatalf("state %v", s)
	}
	seen := map[int64]int{}
	deadline := time.After(20 * time.Second)
	for len(seen) < n {
		select {
		case p := <-bob.Pushes():
			if m, ok := p.Body.(*protocol.MsgPush); ok {
				seen[m.Message.Seq]++
			}
		case <-deadline:
			t.Fatalf("bob got %d of %d messages sent while he was away", len(seen), n)
		}
	}
	// Anything still queued would be a duplicate; a ping round trip
	// flushes pushes sent before its reply.
	if _, err := bob.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case p := <-bob.Pushes():
			if m, ok := p.Body.(*protocol.MsgPush); ok {
				seen[m.Message.Seq]++
			}
			continue
		default:
		}
		break
	}
	for seq := int64(1); seq <= n; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d delivered %d times", seq, seen[seq])
		}
	}
}

// TestChatdFileTransfer sends a file through the real file port: the
// recipient is told, downloads it with progress, and gets the same bytes.
func TestChatdFileTransfer(t *testing.T) {
	addr := startChatd(t)
	ctx := testCtx(t)
	alice := newUser(t, addr, "alice", client.Options{})
	bob := newUser(t, addr, "bob", client.Options{})
	befriend(t, alice, bob)

	content := make([]byte, 3<<20+123)
	for i := range content {
		content[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "report.bin")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	var last, total int64
	fileID, err := alice.SendFile(ctx, client.Target{User: bob.id}, path, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	if last != int64(len(content)) || total != int64(len(content)) {
		t.Fatalf("upload progress ended at %d/%d", last, total)
	}
	// Both a file.offered push and a "file" message arrive, in either
	// order.
	var offered *protocol.FileOfferedPush
	var fileMsg *protocol.Message
	deadline := time.After(20 * time.Second)
	for offered == nil || fileMsg == nil {
		select {
		case p := <-bob.Pushes():
			switch b := p.Body.(type) {
			case *protocol.FileOfferedPush:
				offered = b
			case *protocol.MsgPush:
				if b.Message.Type == "file" {
					fileMsg = &b.Message
				}
			}
		case <-deadline:
			t.Fatalf("file pushes: offered %v, message %v", offered, fileMsg)
		}
	}
	if offered.FileID != fileID || offered.Name != "report.bin" || offered.Size != int64(len(content)) || offered.From.UserID != alice.id {
		t.Fatalf("file.offered %+v", offered)
	}
	if id, err := protocol.ParseFileMessageBody(fileMsg.Body); err != nil || id != fileID {
		t.Fatalf("file message %+v", fileMsg)
	}
	waitPush(t, alice, func(p *protocol.FileReadyPush) bool { return p.FileID == fileID })

	dest := filepath.Join(t.TempDir(), "got.bin")
	var dlast int64
	if err := bob.DownloadFile(ctx, fileID, dest, func(done, _ int64) { dlast = done }); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) || dlast != int64(len(content)) {
		t.Fatalf("downloaded %d bytes (progress %d), want %d", len(got), dlast, len(content))
	}
	// A stranger may not fetch it.
	eve := newUser(t, addr, "eve", client.Options{})
	if _, err := eve.FileFetch(ctx, fileID); protocol.CodeOf(err) != protocol.CodeForbidden && protocol.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("stranger fetch: %v", err)
	}
}

// TestChatdServerRestart: the server shuts down and comes back on the same
// address and database. A client with Reconnect logs in again with its
// token by itself, and messages sent while it was away are delivered once.
func TestChatdServerRestart(t *testing.T) {
	st := servicetest.OpenStore(t)
	srv := servicetest.Start(t, servicetest.WithStore(st))
	addr := srv.ChatAddr
	ctx := testCtx(t)
	states := make(chan client.State, 16)
	bob := newUser(t, addr, "bob", client.Options{Reconnect: true,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnState: func(s client.State, _ error) { states <- s }})
	alice := newUser(t, addr, "alice", client.Options{})
	befriend(t, alice, bob)
	if _, err := alice.Send(ctx, bob.id, "before"); err != nil {
		t.Fatal(err)
	}
	m := waitPush(t, bob, func(*protocol.MsgPush) bool { return true }).Message
	if err := bob.Ack(ctx, m.Conv, m.Seq); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if s := <-states; s != client.StateReconnecting {
		t.Fatalf("state %v", s)
	}
	servicetest.Start(t, servicetest.WithStore(st), servicetest.WithChatAddr(addr))

	// alice (no reconnect) dials again and sends while bob may still be
	// reconnecting.
	alice2, err := client.Dial(ctx, addr, client.Options{OnPush: func(client.Push) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer alice2.Close()
	if _, err := alice2.LoginToken(ctx, "alice", alice.Token()); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
	if _, err := alice2.Send(ctx, bob.id, "after"); err != nil {
		t.Fatal(err)
	}
	if s := <-states; s != client.StateConnected {
		t.Fatalf("state %v", s)
	}
	got := waitPush(t, bob, func(*protocol.MsgPush) bool { return true }).Message
	if got.Body != "after" || got.Seq != 2 {
		t.Fatalf("bob got %+v", got)
	}
	if _, err := bob.Send(ctx, alice.id, "still here"); err != nil {
		t.Fatalf("send after the restart: %v", err)
	}
}

// BenchmarkChatdPing measures pipelined ping round trips through the SDK
// against an in-process chatd (both on this machine).
func BenchmarkChatdPing(b *testing.B) {
	client.BenchPings(b, benchChatd(b))
}

// BenchmarkChatdSend measures pipelined msg.send (stored durably in SQLite
// before the reply) through the SDK against an in-process chatd, with the
// message rate limit lifted.
func BenchmarkChatdSend(b *testing.B) {
	addr := benchChatd(b)
	ctx := context.Background()
	opts := client.Options{PingInterval: -1, OnPush: func(client.Push) {}}
	c := newUser(b, addr, "alice", opts)
	peer := newUser(b, addr, "bob", opts)
	bobID := peer.id
	req, err := c.FriendRequest(ctx, bobID, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := peer.FriendRespond(ctx, req, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Send(ctx, bobID, "benchmark message"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchChatd(b *testing.B) string {
	b.Helper()
	return servicetest.Start(b, servicetest.WithConfig(func(c *service.Config) {
		c.Workers, c.MsgRate, c.MsgBurst = 0, 1e9, 1<<30
		c.Logger = zerolog.Nop()
	})).ChatAddr
}

// TestDiscoverChatdResponder finds the real discovery responder by
// unicast and gets the chat address with the host filled in.
func TestDiscoverChatdResponder(t *testing.T) {
	r, err := discovery.Listen(discovery.Config{Addr: "127.0.0.1:0", Name: "office", Version: "test",
		ChatAddr: ":9000", FileAddr: ":9001"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := client.Discover(testCtx(t), r.Addr().String(), 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "office" || got[0].ChatAddr != "127.0.0.1:9000" || got[0].FileAddr != "127.0.0.1:9001" {
		t.Fatalf("discovered %+v", got)
	}
}
