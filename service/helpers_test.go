package service

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
	"github.com/chatd/chatd/store/mysqltest"
	"github.com/rs/zerolog"
)

// cheapArgon2 keeps password hashing fast in tests (and under -race).
var cheapArgon2 = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// waitTimeout bounds every wait for a reply or push; generous because the
// race detector slows the store down a lot.
const waitTimeout = 20 * time.Second

// backend opens fresh stores of one kind; tr is the transport the test
// clients use (raw frames unless a suite says otherwise).
type backend struct {
	name string
	cfg  func(t testing.TB) store.Config
	tr   transport
	// bus, when set, makes every env a cluster of len(bus.ids) nodes on one
	// database, whose clients dial the nodes in turn.
	bus *busSpec
}

// busSpec names the NATS server and the node ids of a cluster backend.
// With spread, the first env's dial picks the nodes in turn; without, it
// dials the first node (tests that pick nodes use the peers themselves).
type busSpec struct {
	url, name string
	ids       []string
	spread    bool
}

var sqliteBackend = backend{name: "sqlite", cfg: func(t testing.TB) store.Config {
	return store.Config{Driver: "sqlite", DataDir: t.TempDir()}
}}

// mysqlBackend returns the MySQL backend, or skips (fails in CI) when
// CHATD_TEST_MYSQL_DSN is unset.
func mysqlBackend(t *testing.T) backend {
	mysqltest.Require(t)
	return backend{name: "mysql", cfg: func(t testing.TB) store.Config {
		return store.Config{Driver: "mysql", DSN: mysqltest.DSN(t, "svc")}
	}}
}

// env is one server on a fresh store, listening on 127.0.0.1:0; or, with
// a cluster backend, the first node of a cluster whose other nodes are
// peers (each an env on the same database).
type env struct {
	t      testing.TB
	scfg   store.Config
	tr     transport
	st     store.Store
	srv    *Server
	cfg    Config
	tweaks []func(*Config)

	bus    *busSpec
	nodeID string        // cluster: this node's id
	node   *cluster.Node // cluster: its bus membership while open
	peers  []*env        // cluster, first node: the other nodes
	turn   atomic.Uint32 // cluster, spread: the node the next dial picks
}

func newEnv(t *testing.T, b backend, tweaks ...func(*Config)) *env { return newEnvTB(t, b, tweaks...) }

// newEnvB is newEnv for benchmarks (embedded store).
func newEnvB(b *testing.B) *env {
	return newEnvTB(b, sqliteBackend, func(c *Config) { c.MsgRate, c.MsgBurst = 1e9, 1e9 })
}

func newEnvTB(t testing.TB, b backend, tweaks ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, scfg: b.cfg(t), tr: b.tr, tweaks: tweaks, bus: b.bus}
	if b.bus != nil {
		e.nodeID = b.bus.ids[0]
		for _, id := range b.bus.ids[1:] {
			e.peers = append(e.peers, &env{t: t, scfg: e.scfg, tr: b.tr, tweaks: tweaks, bus: b.bus, nodeID: id})
		}
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

// joinBus connects node id to the bus at url under name, with a 100 ms
// heartbeat so that node loss shows after deadAfter. The caller closes it.
func joinBus(t testing.TB, url, name, id string, deadAfter time.Duration) *cluster.Node {
	t.Helper()
	node, err := cluster.Connect(context.Background(), cluster.Config{URL: url, Name: name, NodeID: id,
		Heartbeat: 100 * time.Millisecond, DeadAfter: deadAfter,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatalf("join the cluster as %s: %v", id, err)
	}
	return node
}

// open starts the store and the server (and, in a cluster, the node's bus
// membership first, then the peers).
func (e *env) open() {
	e.t.Helper()
	if e.bus != nil {
		e.node = joinBus(e.t, e.bus.url, e.bus.name, e.nodeID, time.Second)
	}
	st, err := store.Open(context.Background(), e.scfg)
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.st = st
	cfg := Config{ChatAddr: "127.0.0.1:0", Store: st, Argon2: cheapArgon2, Loops: 2, Workers: 64,
		Logger: zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel), Cluster: e.node}
	if e.tr.server != nil {
		e.tr.server(&cfg)
	}
	for _, f := range e.tweaks {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		e.t.Fatalf("new server: %v", err)
	}
	if err := srv.Start(); err != nil {
		e.t.Fatalf("start: %v", err)
	}
	e.srv, e.cfg = srv, cfg
	for _, p := range e.peers {
		p.open()
	}
}

func (e *env) close() {
	for _, p := range e.peers {
		p.close()
	}
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := e.srv.Shutdown(ctx); err != nil {
			e.t.Errorf("shutdown: %v", err)
		}
		cancel()
		e.srv = nil
	}
	if e.st != nil {
		if err := e.st.Close(); err != nil {
			e.t.Errorf("close store: %v", err)
		}
		e.st = nil
	}
	if e.node != nil {
		e.node.Close()
		e.node = nil
	}
}

// restart stops the server and the store and opens both again on the same
// database: what survives is what the store made durable.
func (e *env) restart() {
	e.close()
	e.open()
}

// frame is one received frame.
type frame struct {
	op    protocol.Op
	reqID uint32
	body  []byte
}

// tclient is a minimal framed test client over a real TCP connection: it
// sends requests, matches replies by req_id and collects pushes in order.
type tclient struct {
	t       testing.TB
	nc      net.Conn
	nextReq atomic.Uint32
	mu      sync.Mutex
	waiters map[uint32]chan frame
	pushes  chan frame
	done    chan struct{}
	err     error // read error, valid after done is closed
	userID  int64
	token   string
	// settle, in a cluster, waits until pushes sent between the nodes so
	// far have been written (noPush and drain call it first).
	settle func()
}

// dial connects a test client; in a cluster, to each node in turn, so
// the users of a scenario (and one user's devices) land on different
// nodes.
func (e *env) dial() *tclient {
	e.t.Helper()
	if e.bus != nil && e.bus.spread {
		if i := int(e.turn.Add(1)-1) % (len(e.peers) + 1); i > 0 {
			return e.dialNode(e.peers[i-1])
		}
	}
	return e.dialNode(e)
}

// sessions returns the live sessions of every node.
func (e *env) sessions() int {
	n := e.srv.Sessions()
	for _, p := range e.peers {
		n += p.srv.Sessions()
	}
	return n
}

// dialNode connects a test client to node n's server.
func (e *env) dialNode(n *env) *tclient {
	e.t.Helper()
	addr := n.srv.ChatAddr().String()
	var c *tclient
	if e.tr.dial != nil {
		c = newTClient(e.t, e.tr.dial(e.t, addr))
	} else {
		c = dialAddr(e.t, addr)
	}
	if e.bus != nil {
		c.settle = e.flushBus
	}
	return c
}

// flushBus waits until every node has handled what the others sent it.
func (e *env) flushBus() {
	e.t.Helper()
	for _, n := range append([]*env{e}, e.peers...) {
		if n.node == nil {
			continue
		}
		if err := n.node.Flush(context.Background()); err != nil {
			e.t.Fatalf("flush the bus from %s: %v", n.nodeID, err)
		}
	}
}

func dialAddr(t testing.TB, addr string) *tclient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return newTClient(t, nc)
}

func newTClient(t testing.TB, nc net.Conn) *tclient {
	c := &tclient{t: t, nc: nc, waiters: map[uint32]chan frame{}, pushes: make(chan frame, 4096), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() { nc.Close() })
	return c
}

func (c *tclient) readLoop() {
	defer close(c.done)
	hdr := make([]byte, protocol.HeaderSize)
	for {
		if _, err := io.ReadFull(c.nc, hdr); err != nil {
			c.err = err
			return
		}
		n := binary.BigEndian.Uint32(hdr)
		f := frame{op: protocol.Op(binary.BigEndian.Uint16(hdr[4:])), reqID: binary.BigEndian.Uint32(hdr[6:])}
		f.body = make([]byte, n-6)
		if _, err := io.ReadFull(c.nc, f.body); err != nil {
			c.err = err
			return
		}
		if f.reqID == 0 {
			select {
			case c.pushes <- f:
			default:
				c.err = errors.New("test client: push buffer full")
				return
			}
			continue
		}
		c.mu.Lock()
		w := c.waiters[f.reqID]
		delete(c.waiters, f.reqID)
		c.mu.Unlock()
		if w != nil {
			w <- f
		}
	}
}

// send writes a request frame with a JSON body (or raw []byte) and returns
// the channel its reply will arrive on.
func (c *tclient) send(op protocol.Op, body any) (uint32, chan frame) {
	c.t.Helper()
	id := c.nextReq.Add(1)
	ch := make(chan frame, 1)
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = protocol.AppendFrame(nil, op, id, v)
	case string:
		b = protocol.AppendFrame(nil, op, id, []byte(v))
	default:
		var err error
		if b, err = protocol.AppendJSONFrame(nil, op, id, body); err != nil {
			c.t.Fatalf("encode: %v", err)
		}
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write %s: %v", op, err)
	}
	return id, ch
}

func (c *tclient) wait(op protocol.Op, ch chan frame) frame {
	c.t.Helper()
	select {
	case f := <-ch:
		if f.op != op {
			c.t.Fatalf("reply op %s, want %s", f.op, op)
		}
		return f
	case <-c.done:
		c.t.Fatalf("connection closed waiting for %s reply: %v", op, c.err)
	case <-time.After(waitTimeout):
		c.t.Fatalf("no %s reply", op)
	}
	return frame{}
}

func (c *tclient) decode(f frame, resp any) protocol.Code {
	c.t.Helper()
	var st protocol.Status
	if err := protocol.Unmarshal(f.body, &st); err != nil {
		c.t.Fatalf("%s reply %q: %v", f.op, f.body, err)
	}
	if st.Code == protocol.CodeOK && resp != nil {
		if err := protocol.Unmarshal(f.body, resp); err != nil {
			c.t.Fatalf("%s reply %q: %v", f.op, f.body, err)
		}
	}
	if st.Code != protocol.CodeOK && resp != nil {
		if e, ok := resp.(*protocol.Status); ok {
			*e = st
		}
	}
	return st.Code
}

// must calls and fails the test unless the reply code is want.
func (c *tclient) must(want protocol.Code, op protocol.Op, body any, resp any) {
	c.t.Helper()
	if resp == nil {
		resp = &protocol.Status{}
	}
	_, ch := c.send(op, body)
	f := c.wait(op, ch)
	if got := c.decode(f, resp); got != want {
		c.t.Fatalf("%s: code %s (%s), want %s", op, got, f.body, want)
	}
}

// push returns the next push, failing after the timeout.
func (c *tclient) push() frame {
	c.t.Helper()
	select {
	case f := <-c.pushes:
		return f
	case <-time.After(waitTimeout):
		c.t.Fatal("no push")
	}
	return frame{}
}

// expect returns the next push, which must be op, decoded into v.
func (c *tclient) expect(op protocol.Op, v any) frame {
	c.t.Helper()
	f := c.push()
	if f.op != op {
		c.t.Fatalf("push %s %s, want %s", f.op, f.body, op)
	}
	if v != nil {
		if err := protocol.Unmarshal(f.body, v); err != nil {
			c.t.Fatalf("push %s: %v", op, err)
		}
	}
	return f
}

// waitFor skips pushes until one of op arrives.
func (c *tclient) waitFor(op protocol.Op, v any) frame {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case f := <-c.pushes:
			if f.op != op {
				continue
			}
			if v != nil {
				if err := protocol.Unmarshal(f.body, v); err != nil {
					c.t.Fatalf("push %s: %v", op, err)
				}
			}
			return f
		case <-deadline:
			c.t.Fatalf("no %s push", op)
		}
	}
}

// noPush checks that no push arrives: a ping round trip proves the server
// has handled everything sent before, then the queue must be empty.
func (c *tclient) noPush() {
	c.t.Helper()
	c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
	if c.settle != nil {
		c.settle()
		c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
	}
	select {
	case f := <-c.pushes:
		c.t.Fatalf("unexpected push %s %s", f.op, f.body)
	default:
	}
}

// drain discards pushes queued so far (in a cluster, also those on their
// way from other nodes).
func (c *tclient) drain() {
	if c.settle != nil {
		c.settle()
		c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
	}
	for {
		select {
		case <-c.pushes:
		default:
			return
		}
	}
}

// closed waits for the server to close the connection.
func (c *tclient) closed() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Fatal("connection not closed by the server")
	}
}

var userSeq atomic.Int64

// uniqueName returns a fresh valid username with prefix.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, userSeq.Add(1))
}

const testPassword = "password-123"

// register creates an account and returns its id.
func (e *env) register(name string) int64 {
	e.t.Helper()
	c := e.dialNode(e)
	var r protocol.RegisterResp
	c.must(protocol.CodeOK, protocol.OpRegister, &protocol.RegisterReq{Username: name, Password: testPassword}, &r)
	c.nc.Close()
	return r.UserID
}

// login opens a connection and logs name in on device.
func (e *env) login(name, device string) (*tclient, *protocol.LoginResp) {
	e.t.Helper()
	c := e.dial()
	var r protocol.LoginResp
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword, Device: device}, &r)
	c.userID, c.token = r.UserID, r.Token
	return c, &r
}

// userB is user for benchmarks.
func (e *env) userB(prefix string) *tclient { return e.user(prefix) }

// user registers and logs in a fresh user.
func (e *env) user(prefix string) *tclient {
	e.t.Helper()
	name := uniqueName(prefix)
	e.register(name)
	c, _ := e.login(name, "")
	return c
}

// offlineFriends registers two fresh users, makes them friends, and logs
// the second out again, returning the first (online, having seen the
// second's presence change), the second's closed client (for its userID)
// and the second's username (to log in later).
func (e *env) offlineFriends(prefixA, prefixB string) (a, b *tclient, bName string) {
	e.t.Helper()
	an, bn := uniqueName(prefixA), uniqueName(prefixB)
	e.register(an)
	e.register(bn)
	a, _ = e.login(an, "")
	b, _ = e.login(bn, "")
	befriend(e.t, a, b)
	b.nc.Close()
	a.waitFor(protocol.OpPresence, nil)
	return a, b, bn
}

// befriend makes a and b friends through the protocol and drains the
// notices it causes.
func befriend(t testing.TB, a, b *tclient) {
	t.Helper()
	var r protocol.FriendRequestResp
	a.must(protocol.CodeOK, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: b.userID}, &r)
	b.waitFor(protocol.OpFriendRequested, nil)
	b.must(protocol.CodeOK, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r.RequestID, Accept: true}, nil)
	a.waitFor(protocol.OpFriendResponded, nil)
	a.waitFor(protocol.OpPresence, nil)
	b.waitFor(protocol.OpPresence, nil)
}
