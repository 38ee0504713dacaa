// Package cluster connects several chatd nodes through a NATS server: it
// owns the bus connection, one subject per node, a broadcast subject, and a
// directory of the live sessions of every node kept in a JetStream
// key-value bucket. It knows users, sessions and nodes, never chat rules:
// what the bytes it carries mean is the service's business.
//
// The directory: every node writes one key per live session
// (s.<user>.<node>.<conn>) and a heartbeat key (n.<node>) every Heartbeat,
// and watches the whole bucket, so each node holds an in-memory replica of
// who is online where; lookups never touch the network. A node whose
// heartbeat has not been seen for DeadAfter is dead: every node drops its
// sessions from its replica at once, and the live node with the smallest id
// deletes its keys and tells its Handler which users it had, so their
// friends learn they went offline. A node that cannot see its own heartbeat
// (its bus is down) declares nobody dead. A node that leaves (Close)
// deletes its heartbeat key first, and the others treat that the same way
// at once.
//
// Writes to the directory are asynchronous and coalesced per key, so a
// login or a close never waits for the bus; what this node has written is
// kept locally and written again when the connection comes back or when
// another node removed it while this one was unreachable.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Config configures a Node.
type Config struct {
	// URL is the NATS server (nats://host:port; several comma-separated).
	URL string
	// NodeID names this node; letters, digits, '_' and '-' only.
	NodeID string
	// Name prefixes the subjects and names the key-value bucket, so
	// several clusters (or tests) can share one NATS server. Default "chatd".
	Name string
	// Heartbeat is how often the node writes its heartbeat (default 2 s);
	// DeadAfter is how long without one makes a node dead (default 10 s).
	Heartbeat time.Duration
	DeadAfter time.Duration
	// Timeout bounds each bus operation (default 2 s).
	Timeout time.Duration
	Logger  zerolog.Logger
	// OnUpChange, when set, is called with true or false whenever the
	// connection to the bus comes up or goes down (metrics).
	OnUpChange func(up bool)
}

// SessionInfo is what the directory holds about one live session.
type SessionInfo struct {
	Node   string `json:"node"`
	Conn   uint64 `json:"conn"`
	Device string `json:"device"`
	Addr   string `json:"addr"`
	Since  int64  `json:"since"`
}

// Handler receives what other nodes send. Its methods are called from the
// bus's goroutines and should return quickly; messages from one node
// arrive in the order that node sent them.
type Handler interface {
	// OnMessage handles a message sent to this node or to all nodes.
	OnMessage(data []byte)
	// OnNodeGone is called on one live node when a node died without
	// saying goodbye or left (Close), or on the node itself when it
	// restarts, with the users whose sessions there were removed from the
	// directory.
	OnNodeGone(node string, users []int64)
	// OnOwnSession is called when the directory brings back a put (put
	// true) or a delete of one of this node's own sessions. edge reports
	// that, in the directory's order (the same on every node), the put was
	// the user's first session anywhere or the delete ended the last one:
	// exactly one node sees each such edge, so presence decided there is
	// neither lost nor doubled when sessions on two nodes end at once.
	OnOwnSession(user int64, conn uint64, put, edge bool)
}

// NodeObserver may be implemented by a Handler that keeps per-node state
// of its own (room members): OnNodeDead is called on every node, unlike
// OnNodeGone, for each node declared dead or that left; OnBusBack when the bus
// connection comes back after a loss (what the other nodes were sent
// meanwhile may be lost).
type NodeObserver interface {
	OnNodeDead(node string)
	OnBusBack()
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidNodeID reports whether id can name a node.
func ValidNodeID(id string) bool { return nodeIDPattern.MatchString(id) }

// NewNodeID returns a random node id.
func NewNodeID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "node-" + hex.EncodeToString(b[:])
}

// Node is this process's membership of a cluster. Create it with Connect,
// give it a Handler with Attach, and Close it last.
type Node struct {
	cfg Config
	log zerolog.Logger
	nc  *nats.Conn
	js  jetstream.JetStream

	kvMu sync.Mutex
	kv   jetstream.KeyValue

	handler atomic.Pointer[handlerBox]
	subs    []*nats.Subscription

	mu sync.RWMutex
	// sessions is the replica of the directory: user -> key -> info.
	sessions map[int64]map[string]SessionInfo
	// seen is when each node's heartbeat was last seen (local clock).
	seen map[string]time.Time
	// dead holds nodes declared dead whose keys may still be arriving.
	dead map[string]time.Time
	// infos holds what each node published with SetInfo (key i.<node>).
	infos map[string][]byte
	// waiters are the reply subjects of other nodes' Announce calls for a
	// session key this replica does not hold yet, answered when the watch
	// brings the key (or its deletion), dropped after Timeout.
	waiters map[string][]waiter
	// suspect is when each node last failed to answer an Announce.
	suspect map[string]time.Time

	// own is what this node has put in the directory (key -> value), the
	// source for rewrites; pending is what the writer has yet to apply
	// (nil value: delete).
	ownMu   sync.Mutex
	own     map[string][]byte
	pending map[string][]byte
	wake    chan struct{}

	// lossy holds one bounded queue per node for SendLossy.
	lossyMu sync.Mutex
	lossy   map[string]chan []byte

	resync  chan struct{}
	rewatch chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closed  atomic.Bool
	// leaving: Leave was called; sessions that end keep their keys.
	leaving atomic.Bool
}

type handlerBox struct{ h Handler }

// waiter is another node's Announce waiting for a key to reach this replica.
type waiter struct {
	reply string
	since time.Time
}

// Connect connects to the bus, creates the directory bucket when missing
// and loads the directory. The connection reconnects forever by itself.
func Connect(ctx context.Context, cfg Config) (*Node, error) {
	if !ValidNodeID(cfg.NodeID) {
		return nil, fmt.Errorf("cluster: node id %q: use 1-64 letters, digits, '_' or '-'", cfg.NodeID)
	}
	if cfg.Name == "" {
		cfg.Name = "chatd"
	}
	if !ValidNodeID(cfg.Name) {
		return nil, fmt.Errorf("cluster: name %q: use 1-64 letters, digits, '_' or '-'", cfg.Name)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With().Str("component", "cluster").Str("node", cfg.NodeID).Logger(),
		sessions: map[int64]map[string]SessionInfo{}, seen: map[string]time.Time{}, dead: map[string]time.Time{}, infos: map[string][]byte{}, waiters: map[string][]waiter{}, suspect: map[string]time.Time{},
		own: map[string][]byte{}, pending: map[string][]byte{}, wake: make(chan struct{}, 1), resync: make(chan struct{}, 1), rewatch: make(chan struct{}, 1)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	nc, err := nats.Connect(cfg.URL,
		nats.Name("chatd "+cfg.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn().Err(err).Msg("bus disconnected; serving local traffic only")
			n.upChanged(false)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			n.log.Info().Msg("bus reconnected; resynchronising the directory")
			n.upChanged(true)
			n.signal(n.resync)
			n.signal(n.rewatch)
			if hb := n.handler.Load(); hb != nil {
				if o, ok := hb.h.(NodeObserver); ok {
					go o.OnBusBack()
				}
			}
		}),
	)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("cluster: connect to %s: %w", redactURL(cfg.URL), err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		n.cancel()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	if err := n.openBucket(ctx); err != nil {
		nc.Close()
		n.cancel()
		return nil, err
	}
	n.upChanged(true)
	return n, nil
}

func (n *Node) upChanged(up bool) {
	if n.cfg.OnUpChange != nil {
		n.cfg.OnUpChange(up)
	}
}

// redactURL drops user information from a NATS URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

// Bucket returns the name of the directory bucket.
func (n *Node) Bucket() string { return n.cfg.Name + "_sessions" }

func (n *Node) openBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*n.cfg.Timeout)
	defer cancel()
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: n.Bucket(), History: 1,
		Description: "chatd session directory", Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("cluster: key-value bucket %s (JetStream must be enabled on the NATS server, nats-server -js): %w", n.Bucket(), err)
	}
	n.kvMu.Lock()
	n.kv = kv
	n.kvMu.Unlock()
	return nil
}

func (n *Node) bucket() jetstream.KeyValue {
	n.kvMu.Lock()
	defer n.kvMu.Unlock()
	return n.kv
}

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Up reports whether the bus connection is up now.
func (n *Node) Up() bool { return n.nc.IsConnected() }

// Check is a readiness check: nil when the bus is connected.
func (n *Node) Check(context.Context) error {
	if n.Up() {
		return nil
	}
	return fmt.Errorf("bus %s: %s", redactURL(n.cfg.URL), n.nc.Status())
}

func (n *Node) nodeSubject(id string) string  { return n.cfg.Name + ".node." + id }
func (n *Node) allSubject() string            { return n.cfg.Name + ".all" }
func (n *Node) mediaSubject(id string) string { return n.cfg.Name + ".media." + id }
func (n *Node) haveSubject() string           { return n.cfg.Name + ".have" }

// Attach starts the node's part in the cluster with h receiving what other
// nodes send: it subscribes, starts the heartbeat, the directory watch and
// writer, and reaps what a previous run of this node left behind.
func (n *Node) Attach(h Handler) error {
	if !n.handler.CompareAndSwap(nil, &handlerBox{h}) {
		return errors.New("cluster: already attached")
	}
	for _, subj := range []string{n.nodeSubject(n.cfg.NodeID), n.allSubject()} {
		sub, err := n.nc.Subscribe(subj, n.onMsg)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
		}
		_ = sub.SetPendingLimits(1<<20, 256<<20)
		n.subs = append(n.subs, sub)
	}
	// Lossy traffic has a subject of its own with small limits: when this
	// node falls behind, NATS drops media, never what the node subject
	// carries.
	sub, err := n.nc.Subscribe(n.mediaSubject(n.cfg.NodeID), n.onMsg)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", n.mediaSubject(n.cfg.NodeID), err)
	}
	_ = sub.SetPendingLimits(4096, 32<<20)
	n.subs = append(n.subs, sub)
	sub, err = n.nc.Subscribe(n.haveSubject(), n.onHave)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", n.haveSubject(), err)
	}
	n.subs = append(n.subs, sub)
	// The first view, with whatever a previous run of this node left.
	w, err := n.loadView()
	if err != nil {
		return err
	}
	n.reapSelf()
	n.heartbeat()
	n.wg.Add(3)
	go n.watchLoop(w)
	go n.writeLoop()
	go n.tickLoop()
	return nil
}

func (n *Node) onMsg(m *nats.Msg) {
	// An empty message is Flush's marker: only answered.
	if hb := n.handler.Load(); hb != nil && len(m.Data) > 0 {
		hb.h.OnMessage(m.Data)
	}
	if m.Reply != "" {
		_ = m.Respond(nil)
	}
}

// Send publishes data to one node (fire and forget; ordered per sender).
func (n *Node) Send(node string, data []byte) error {
	return n.nc.Publish(n.nodeSubject(node), data)
}

// Acks waits for the answers to a PublishAcked.
type Acks struct {
	n    *Node
	sub  *nats.Subscription
	want int
	// answered holds the answers' bodies so far (Announce's: node ids).
	answered []string
	// only, when set, is the answers that count (Announce's targets: a
	// node it does not wait for may still answer).
	only map[string]bool
}

// PublishAcked publishes data to each of nodes on its node subject (so it
// keeps its order with what Send sends them) and returns at once; Wait
// waits for their answers. Publishing only buffers, so a caller may hold
// a lock across it and wait after releasing the lock.
func (n *Node) PublishAcked(nodes []string, data []byte) (*Acks, error) {
	subjects := make([]string, len(nodes))
	for i, id := range nodes {
		subjects[i] = n.nodeSubject(id)
	}
	a, err := n.request(subjects, data, len(nodes))
	if err != nil {
		return nil, fmt.Errorf("cluster: send acked: %w", err)
	}
	return a, nil
}

// request publishes data on each subject with one reply inbox; the Acks
// wait for want answers.
func (n *Node) request(subjects []string, data []byte, want int) (*Acks, error) {
	if want <= 0 {
		return &Acks{n: n}, nil
	}
	inbox := n.nc.NewRespInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	for _, subj := range subjects {
		if err := n.nc.PublishMsg(&nats.Msg{Subject: subj, Reply: inbox, Data: data}); err != nil {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("publish %s: %w", subj, err)
		}
	}
	return &Acks{n: n, sub: sub, want: want}, nil
}

// Wait waits until every node asked has handled the data, or ctx or the
// Timeout ends (then the error says how many answered).
func (a *Acks) Wait(ctx context.Context) error {
	if a.sub == nil {
		return nil
	}
	defer a.sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.Timeout)
	defer cancel()
	for len(a.answered) < a.want {
		m, err := a.sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("cluster: %d of %d nodes answered: %w", len(a.answered), a.want, err)
		}
		if a.only != nil && !a.only[string(m.Data)] {
			continue
		}
		a.answered = append(a.answered, string(m.Data))
	}
	return nil
}

// Flush waits until every other live node has handled what this node sent
// it with Send before the call (a node handles one sender's messages in
// order), or ctx ends. Tests use it to know that pushes have landed.
func (n *Node) Flush(ctx context.Context) error {
	others := slices.DeleteFunc(n.LiveNodes(), func(id string) bool { return id == n.cfg.NodeID })
	a, err := n.PublishAcked(others, nil)
	if err != nil {
		return err
	}
	return a.Wait(ctx)
}

// lossyQueue is how many frames SendLossy keeps per node before it drops.
const lossyQueue = 512

// SendLossy queues data for node on its lossy subject and reports whether
// it was queued: when the node's queue is full (the bus or the node is
// slow) data is dropped. It never blocks, so an event loop may call it.
// One goroutine per node publishes the queue, and ends when it has been
// idle for a while.
func (n *Node) SendLossy(node string, data []byte) bool {
	if n.ctx.Err() != nil {
		return false
	}
	n.lossyMu.Lock()
	q := n.lossy[node]
	if q == nil {
		if n.lossy == nil {
			n.lossy = map[string]chan []byte{}
		}
		q = make(chan []byte, lossyQueue)
		n.lossy[node] = q
		go n.publishLossy(node, q)
	}
	// Under the lock: publishLossy retires q under it too, so nothing is
	// queued on a queue nobody reads.
	ok := false
	select {
	case q <- data:
		ok = true
	default:
	}
	n.lossyMu.Unlock()
	return ok
}

func (n *Node) publishLossy(node string, q chan []byte) {
	subj := n.mediaSubject(node)
	idle := time.NewTimer(time.Minute)
	defer idle.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case data := <-q:
			_ = n.nc.Publish(subj, data)
			idle.Reset(time.Minute)
		case <-idle.C:
			n.lossyMu.Lock()
			if len(q) > 0 {
				n.lossyMu.Unlock()
				idle.Reset(time.Minute)
				continue
			}
			delete(n.lossy, node)
			n.lossyMu.Unlock()
			return
		}
	}
}

// NextID returns the next value of the cluster-wide counter name (1, 2,
// ...), kept in the directory bucket and advanced with compare-and-set, so
// no two nodes ever get the same value. It needs the bus.
func (n *Node) NextID(ctx context.Context, name string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	key := "c." + name
	kv := n.bucket()
	for ctx.Err() == nil {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := kv.Create(ctx, key, []byte("1")); err == nil {
				return 1, nil
			}
			continue // another node created it first
		}
		if err != nil {
			return 0, fmt.Errorf("cluster: counter %s: %w", name, err)
		}
		v, err := strconv.ParseInt(string(e.Value()), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cluster: counter %s holds %q: %w", name, e.Value(), err)
		}
		if _, err := kv.Update(ctx, key, []byte(strconv.FormatInt(v+1, 10)), e.Revision()); err == nil {
			return v + 1, nil
		}
		// Another node advanced it meanwhile: read again.
	}
	return 0, fmt.Errorf("cluster: counter %s: %w", name, ctx.Err())
}

// Broadcast publishes data to every node, this one included, and waits
// until every node this one believes alive has handled it, or ctx ends
// (then the error says how many answered).
func (n *Node) Broadcast(ctx context.Context, data []byte) error {
	a, err := n.request([]string{n.allSubject()}, data, len(n.LiveNodes()))
	if err == nil {
		err = a.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("cluster: broadcast: %w", err)
	}
	return nil
}

// Announce waits until every other live node's replica holds the session
// this node put for (user, conn) with PutSession, so that a push decided on
// any node from then on is sent here too. Without it a message stored on
// another node in the few milliseconds before that node's watch brings the
// key is not pushed live (the session's backlog, read before, misses it as
// well). A login calls it between attaching the session and reading its
// backlog. It returns at once when the session has ended, no other node
// is alive or the bus is down, and waits at most ctx's time: a node that
// does not answer is most likely dead, and its death is handled elsewhere.
func (n *Node) Announce(ctx context.Context, user int64, conn uint64) error {
	key := sessionKey(user, n.cfg.NodeID, conn)
	n.ownMu.Lock()
	_, live := n.own[key]
	n.ownMu.Unlock()
	targets := n.announceTargets()
	if !live || len(targets) == 0 || !n.nc.IsConnected() {
		return nil // ended already, or nobody to tell
	}
	a, err := n.request([]string{n.haveSubject()}, []byte(key), len(targets))
	if err == nil {
		a.only = map[string]bool{}
		for _, id := range targets {
			a.only[id] = true
		}
		if err = a.Wait(ctx); err != nil {
			n.suspectSilent(targets, a.answered)
		}
	}
	if err != nil {
		return fmt.Errorf("cluster: announce: %w", err)
	}
	return nil
}

// announceTargets lists the other live nodes an Announce waits for: not
// those that failed to answer one since their last heartbeat. After a
// kill -9 only the first login waits for the dead node, not every login
// until it is declared dead (DeadAfter); a node that was only slow is
// waited for again from its next heartbeat on.
func (n *Node) announceTargets() []string {
	live := n.LiveNodes()
	n.mu.RLock()
	defer n.mu.RUnlock()
	return slices.DeleteFunc(live, func(id string) bool {
		if id == n.cfg.NodeID {
			return true
		}
		t, silent := n.suspect[id]
		return silent && !n.seen[id].After(t)
	})
}

// suspectSilent marks the targets that did not answer an Announce.
func (n *Node) suspectSilent(targets, answered []string) {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range targets {
		if !slices.Contains(answered, id) {
			n.suspect[id] = now
			n.log.Warn().Str("silent_node", id).Msg("node did not confirm a new session; logins stop waiting for it until its next heartbeat")
		}
	}
}

// onHave answers another node's Announce once this replica holds the key
// (or knows it deleted): at once, or when the watch brings it.
func (n *Node) onHave(m *nats.Msg) {
	key := string(m.Data)
	if _, node, _, _ := parseKey(key); m.Reply == "" || node == n.cfg.NodeID {
		return // this node's own Announce: it counts the others only
	}
	n.mu.Lock()
	if !n.holdsLocked(key) {
		n.waiters[key] = append(n.waiters[key], waiter{reply: m.Reply, since: time.Now()})
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	_ = n.nc.Publish(m.Reply, []byte(n.cfg.NodeID))
}

// holdsLocked reports whether the replica has the session key.
func (n *Node) holdsLocked(key string) bool {
	user, _, _, ok := parseKey(key)
	if !ok {
		return true // not a session key: nothing to wait for
	}
	_, held := n.sessions[user][key]
	return held
}

// answerWaiters answers the Announce calls waiting for key (the watch
// just applied it, put or delete).
func (n *Node) answerWaiters(key string) {
	n.mu.Lock()
	ws := n.waiters[key]
	delete(n.waiters, key)
	n.mu.Unlock()
	for _, w := range ws {
		_ = n.nc.Publish(w.reply, []byte(n.cfg.NodeID))
	}
}

// expireWaitersLocked drops waiters older than Timeout: their Announce
// has given up.
func (n *Node) expireWaitersLocked(now time.Time) {
	for key, ws := range n.waiters {
		ws = slices.DeleteFunc(ws, func(w waiter) bool { return now.Sub(w.since) > n.cfg.Timeout })
		if len(ws) == 0 {
			delete(n.waiters, key)
		} else {
			n.waiters[key] = ws
		}
	}
}

// LiveNodes returns the nodes whose heartbeat is recent, this one included.
func (n *Node) LiveNodes() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := []string{n.cfg.NodeID}
	now := time.Now()
	for id, t := range n.seen {
		if id != n.cfg.NodeID && now.Sub(t) < n.cfg.DeadAfter {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Nodes appends to dst, once each, the other nodes where any of users has
// a session. One read lock for all of them: a push to a large group asks
// for every member.
func (n *Node) Nodes(dst []string, users ...int64) []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, u := range users {
		for _, si := range n.sessions[u] {
			if si.Node != n.cfg.NodeID && !slices.Contains(dst, si.Node) {
				dst = append(dst, si.Node)
			}
		}
	}
	return dst
}

// Online reports whether user has a session on another node.
func (n *Node) Online(user int64) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, si := range n.sessions[user] {
		if si.Node != n.cfg.NodeID {
			return true
		}
	}
	return false
}

// Sessions returns user's sessions on other nodes.
func (n *Node) Sessions(user int64) []SessionInfo {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []SessionInfo
	for _, si := range n.sessions[user] {
		if si.Node != n.cfg.NodeID {
			out = append(out, si)
		}
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return int(a.Since - b.Since) })
	return out
}

func infoKey(node string) string { return "i." + node }

// SetInfo publishes what the other nodes should know about this one (the
// service puts where its file port is there), as the value of its info
// key i.<node>. Like a session it is written in the background, written
// again after a reconnect, and deleted by Close.
func (n *Node) SetInfo(info []byte) {
	key := infoKey(n.cfg.NodeID)
	n.ownMu.Lock()
	n.own[key] = info
	n.pending[key] = info
	n.ownMu.Unlock()
	n.signal(n.wake)
}

// Info returns what node published with SetInfo, this one included. It is
// false when the node published nothing, left (Close), or is not live: no
// heartbeat seen for DeadAfter, so a node killed without a goodbye stops
// being named within DeadAfter.
func (n *Node) Info(node string) ([]byte, bool) {
	if node == n.cfg.NodeID {
		n.ownMu.Lock()
		defer n.ownMu.Unlock()
		b, ok := n.own[infoKey(node)]
		return b, ok
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	b, ok := n.infos[node]
	if t, live := n.seen[node]; !ok || !live || time.Since(t) >= n.cfg.DeadAfter {
		return nil, false
	}
	return b, true
}

// BusIP returns this node's IP address as the NATS server sees it (its
// address on the network the nodes share), "" when unknown.
func (n *Node) BusIP() string {
	ip, err := n.nc.GetClientIP()
	if err != nil || ip == nil {
		return ""
	}
	return ip.String()
}

func sessionKey(user int64, node string, conn uint64) string {
	return "s." + strconv.FormatInt(user, 10) + "." + node + "." + strconv.FormatUint(conn, 10)
}

// PutSession records a live session of this node in the directory. It does
// not wait for the bus.
func (n *Node) PutSession(user int64, info SessionInfo) {
	info.Node = n.cfg.NodeID
	b, _ := json.Marshal(info)
	key := sessionKey(user, info.Node, info.Conn)
	n.ownMu.Lock()
	n.own[key] = b
	n.pending[key] = b
	n.ownMu.Unlock()
	n.signal(n.wake)
}

// DeleteSession removes a session of this node from the directory. It
// does not wait for the bus. After Leave it does nothing: Close removes
// the key.
func (n *Node) DeleteSession(user int64, conn uint64) {
	if n.leaving.Load() {
		return
	}
	key := sessionKey(user, n.cfg.NodeID, conn)
	n.ownMu.Lock()
	delete(n.own, key)
	n.pending[key] = nil
	n.ownMu.Unlock()
	n.signal(n.wake)
}

func (n *Node) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// writeLoop applies pending directory writes in the background.
func (n *Node) writeLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		}
		n.ownMu.Lock()
		batch := n.pending
		n.pending = map[string][]byte{}
		n.ownMu.Unlock()
		failed := n.writeBatch(batch)
		if len(failed) > 0 {
			// Kept for the next try, unless a newer write replaced them;
			// the resync after a reconnect rewrites everything anyway.
			n.ownMu.Lock()
			for k, v := range failed {
				if _, newer := n.pending[k]; !newer {
					n.pending[k] = v
				}
			}
			n.ownMu.Unlock()
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(n.cfg.Heartbeat):
			}
			n.signal(n.wake)
		}
	}
}

// writeChunk bounds the writes in flight at once (nats.go stalls async
// publishes beyond its own limit, 4,000 by default).
const writeChunk = 1000

// writeBatch writes batch (a nil value deletes) to the directory and
// returns what failed. A key-value put or delete is a JetStream publish to
// $KV.<bucket>.<key> (a delete with the KV-Operation: DEL header), so the
// batch is published asynchronously and its acknowledgements awaited
// together: a burst of logins costs a round trip per chunk, not per key.
func (n *Node) writeBatch(batch map[string][]byte) map[string][]byte {
	type inFlight struct {
		key string
		val []byte
		ack jetstream.PubAckFuture
	}
	var failed map[string][]byte
	fail := func(key string, val []byte, err error) {
		if failed == nil {
			failed = map[string][]byte{}
		}
		failed[key] = val
		if n.ctx.Err() == nil {
			n.log.Debug().Str("key", key).Err(err).Msg("directory write failed; retrying")
		}
	}
	prefix := "$KV." + n.Bucket() + "."
	chunk := make([]inFlight, 0, min(len(batch), writeChunk))
	wait := func() {
		timeout := time.NewTimer(n.cfg.Timeout)
		defer timeout.Stop()
		for i, w := range chunk {
			select {
			case <-w.ack.Ok():
			case err := <-w.ack.Err():
				fail(w.key, w.val, err)
			case <-timeout.C:
				for _, rest := range chunk[i:] {
					fail(rest.key, rest.val, errors.New("no acknowledgement in time"))
				}
				chunk = chunk[:0]
				return
			}
		}
		chunk = chunk[:0]
	}
	for key, val := range batch {
		m := nats.NewMsg(prefix + key)
		if val == nil {
			m.Header.Set("KV-Operation", "DEL")
		} else {
			m.Data = val
		}
		ack, err := n.js.PublishMsgAsync(m)
		if err != nil {
			fail(key, val, err)
			continue
		}
		chunk = append(chunk, inFlight{key, val, ack})
		if len(chunk) == writeChunk {
			wait()
		}
	}
	wait()
	return failed
}

// heartbeat writes this node's liveness key.
func (n *Node) heartbeat() {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	if _, err := n.bucket().Put(ctx, "n."+n.cfg.NodeID, []byte(strconv.FormatInt(time.Now().UnixMilli(), 10))); err != nil && n.ctx.Err() == nil {
		n.log.Debug().Err(err).Msg("heartbeat failed")
	}
}

// tickLoop writes heartbeats and declares silent nodes dead.
func (n *Node) tickLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.resync:
			n.rewriteOwn()
		case <-t.C:
			n.heartbeat()
			n.checkDead()
		}
	}
}

// rewriteOwn queues every key this node owns for writing again (after a
// reconnect: another node may have reaped them meanwhile).
func (n *Node) rewriteOwn() {
	n.ownMu.Lock()
	for k, v := range n.own {
		if _, ok := n.pending[k]; !ok {
			n.pending[k] = v
		}
	}
	n.ownMu.Unlock()
	n.signal(n.wake)
	n.heartbeat()
}

// checkDead declares dead the nodes not heard of for DeadAfter, provided
// this node hears its own heartbeat (else it is the one cut off).
func (n *Node) checkDead() {
	now := time.Now()
	n.mu.Lock()
	n.expireWaitersLocked(now)
	if self, ok := n.seen[n.cfg.NodeID]; !ok || now.Sub(self) >= n.cfg.DeadAfter || !n.nc.IsConnected() {
		n.mu.Unlock()
		return
	}
	var gone []string
	for id, t := range n.seen {
		if id != n.cfg.NodeID && now.Sub(t) >= n.cfg.DeadAfter {
			gone = append(gone, id)
			delete(n.seen, id)
			delete(n.suspect, id)
			n.dead[id] = now
		}
	}
	for id, t := range n.dead {
		if now.Sub(t) > 6*n.cfg.DeadAfter {
			delete(n.dead, id)
		}
	}
	removed := map[string]map[int64][]string{}
	for _, id := range gone {
		removed[id] = n.dropNodeLocked(id)
	}
	reaper := n.reaperLocked(now)
	n.mu.Unlock()
	for _, id := range gone {
		n.log.Warn().Str("dead_node", id).Int("users", len(removed[id])).Msg("node silent; its sessions are gone")
		if hb := n.handler.Load(); hb != nil {
			if o, ok := hb.h.(NodeObserver); ok {
				o.OnNodeDead(id)
			}
		}
		if reaper {
			n.reap(id, removed[id])
		}
	}
}

// reaperLocked reports whether this node has the smallest id among the
// live ones.
func (n *Node) reaperLocked(now time.Time) bool {
	for id, t := range n.seen {
		if id < n.cfg.NodeID && now.Sub(t) < n.cfg.DeadAfter {
			return false
		}
	}
	return true
}

// dropNodeLocked removes a node's sessions from the replica and returns
// their keys per user.
func (n *Node) dropNodeLocked(node string) map[int64][]string {
	out := map[int64][]string{}
	for user, m := range n.sessions {
		for key, si := range m {
			if si.Node == node {
				out[user] = append(out[user], key)
				delete(m, key)
			}
		}
		if len(m) == 0 {
			delete(n.sessions, user)
		}
	}
	return out
}

// reap deletes a dead node's keys and tells the handler whose sessions
// went.
func (n *Node) reap(node string, keys map[int64][]string) {
	users := make([]int64, 0, len(keys))
	dels := map[string][]byte{infoKey(node): nil}
	for user, ks := range keys {
		users = append(users, user)
		for _, k := range ks {
			dels[k] = nil
		}
	}
	if node != n.cfg.NodeID {
		// Not our own (reapSelf): the others would take its deletion
		// for this run's goodbye.
		dels["n."+node] = nil
	}
	n.writeBatch(dels)
	slices.Sort(users)
	if hb := n.handler.Load(); hb != nil && len(users) > 0 {
		hb.h.OnNodeGone(node, users)
	}
}

// reapSelf removes the sessions a previous run of this node left in the
// directory (it was killed, or restarted before anyone noticed).
func (n *Node) reapSelf() {
	n.mu.Lock()
	keys := n.dropNodeLocked(n.cfg.NodeID)
	n.mu.Unlock()
	if len(keys) > 0 {
		n.log.Info().Int("users", len(keys)).Msg("removing sessions left by this node's previous run")
		n.reap(n.cfg.NodeID, keys)
	}
}

// loadView starts a watch of the whole bucket and applies its initial
// values, replacing the replica. It returns the watcher for watchLoop.
func (n *Node) loadView() (jetstream.KeyWatcher, error) {
	ctx, cancel := context.WithTimeout(n.ctx, 3*n.cfg.Timeout)
	defer cancel()
	w, err := n.bucket().WatchAll(n.ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: watch %s: %w", n.Bucket(), err)
	}
	sessions := map[int64]map[string]SessionInfo{}
	seen := map[string]time.Time{}
	infos := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return nil, fmt.Errorf("cluster: load directory: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("cluster: load directory: watch closed")
			}
			if e == nil {
				n.mu.Lock()
				n.sessions = sessions
				n.infos = infos
				for id, t := range seen {
					if _, dead := n.dead[id]; !dead {
						n.seen[id] = t
					}
				}
				n.mu.Unlock()
				return w, nil
			}
			applyEntry(e, sessions, seen, nil)
			applyInfo(e, infos)
		}
	}
}

// applyInfo applies a change of a node's info key to infos.
func applyInfo(e jetstream.KeyValueEntry, infos map[string][]byte) {
	id, ok := strings.CutPrefix(e.Key(), "i.")
	if !ok {
		return
	}
	if e.Operation() == jetstream.KeyValuePut {
		infos[id] = e.Value()
	} else {
		delete(infos, id)
	}
}

// parseKey splits a session key (s.<user>.<node>.<conn>).
func parseKey(key string) (user int64, node string, conn uint64, ok bool) {
	parts := strings.SplitN(key, ".", 4)
	if len(parts) != 4 || parts[0] != "s" {
		return 0, "", 0, false
	}
	user, err1 := strconv.ParseInt(parts[1], 10, 64)
	conn, err2 := strconv.ParseUint(parts[3], 10, 64)
	return user, parts[2], conn, err1 == nil && err2 == nil
}

// applyEntry applies one directory change to a replica; dead, when not
// nil, lists nodes whose session puts are ignored (late writes of a node
// already declared dead).
func applyEntry(e jetstream.KeyValueEntry, sessions map[int64]map[string]SessionInfo, seen map[string]time.Time, dead map[string]time.Time) {
	key := e.Key()
	put := e.Operation() == jetstream.KeyValuePut
	switch {
	case strings.HasPrefix(key, "n."):
		id := key[2:]
		if put {
			delete(dead, id) // it came back, if it was declared dead
			seen[id] = time.Now()
		}
	case strings.HasPrefix(key, "s."):
		user, _, _, ok := parseKey(key)
		if !ok {
			return
		}
		if !put {
			if m := sessions[user]; m != nil {
				delete(m, key)
				if len(m) == 0 {
					delete(sessions, user)
				}
			}
			return
		}
		var si SessionInfo
		if json.Unmarshal(e.Value(), &si) != nil {
			return
		}
		if _, d := dead[si.Node]; d {
			return
		}
		m := sessions[user]
		if m == nil {
			m = map[string]SessionInfo{}
			sessions[user] = m
		}
		m[key] = si
	}
}

// watchLoop applies directory changes to the replica. After a reconnect
// it starts a new watch and reloads the whole view rather than wait for
// the old watch to notice the gap (which takes its heartbeats' time).
func (n *Node) watchLoop(w jetstream.KeyWatcher) {
	defer n.wg.Done()
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	var retry <-chan time.Time
	for {
		var updates <-chan jetstream.KeyValueEntry
		if w != nil {
			updates = w.Updates()
		}
		select {
		case <-n.ctx.Done():
			return
		case <-n.rewatch:
			retry = time.After(0)
		case <-retry:
			retry = nil
			if w != nil {
				_ = w.Stop()
				w = nil
			}
			nw, err := n.loadView()
			if err != nil {
				if n.ctx.Err() != nil {
					return
				}
				n.log.Debug().Err(err).Msg("reload directory; retrying")
				retry = time.After(n.cfg.Heartbeat)
				continue
			}
			w = nw
		case e, ok := <-updates:
			if !ok {
				w = nil
				retry = time.After(n.cfg.Heartbeat)
				continue
			}
			if e == nil {
				continue
			}
			user, node, conn, isSession := parseKey(e.Key())
			n.mu.Lock()
			before := len(n.sessions[user])
			left, removed, reaper := n.leftLocked(e)
			applyEntry(e, n.sessions, n.seen, n.dead)
			applyInfo(e, n.infos)
			after := len(n.sessions[user])
			n.mu.Unlock()
			if isSession && node == n.cfg.NodeID {
				if hb := n.handler.Load(); hb != nil {
					hb.h.OnOwnSession(user, conn, e.Operation() == jetstream.KeyValuePut, (before == 0) != (after == 0))
				}
			}
			if left != "" {
				n.nodeLeft(left, removed, reaper)
			}
			n.answerWaiters(e.Key())
			n.restoreOwn(e)
		}
	}
}

// leftLocked recognises a goodbye: a live node's heartbeat key deleted
// (Close deletes it before its sessions). The node is then gone as if
// declared dead: its sessions leave the replica at once (their keys'
// deletions follow) and later puts of them are ignored; it returns the
// node, its sessions' keys per user, and whether this node reports them.
// A heartbeat deleted by the reaper of a dead node is no goodbye: that
// node left seen when it was declared dead. n.mu held.
func (n *Node) leftLocked(e jetstream.KeyValueEntry) (string, map[int64][]string, bool) {
	id, ok := strings.CutPrefix(e.Key(), "n.")
	if !ok || e.Operation() == jetstream.KeyValuePut || id == n.cfg.NodeID {
		return "", nil, false
	}
	if _, live := n.seen[id]; !live {
		return "", nil, false
	}
	now := time.Now()
	delete(n.seen, id)
	n.dead[id] = now
	return id, n.dropNodeLocked(id), n.reaperLocked(now)
}

// nodeLeft tells the handler that node left: every node's observer, and
// on the reaper the users whose sessions there are gone, so their friends
// learn they are offline (the leaving node's own presence notices die
// with its shutdown). The reaper also deletes what keys remain.
func (n *Node) nodeLeft(node string, removed map[int64][]string, reaper bool) {
	n.log.Info().Str("left_node", node).Int("users", len(removed)).Msg("node left; its sessions are gone")
	// Off the watch goroutine: the handler's work and the reaping's
	// writes must not hold up the directory.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if hb := n.handler.Load(); hb != nil {
			if o, ok := hb.h.(NodeObserver); ok {
				o.OnNodeDead(node)
			}
		}
		if reaper {
			n.reap(node, removed)
		}
	}()
}

// restoreOwn writes back a key of this node that someone else deleted
// (this node was declared dead while cut off, then came back).
func (n *Node) restoreOwn(e jetstream.KeyValueEntry) {
	if e.Operation() == jetstream.KeyValuePut {
		return
	}
	key := e.Key()
	n.ownMu.Lock()
	v, mine := n.own[key]
	if mine {
		if _, queued := n.pending[key]; !queued {
			n.pending[key] = v
		}
	}
	n.ownMu.Unlock()
	if mine {
		n.signal(n.wake)
	}
	if key == "n."+n.cfg.NodeID {
		go n.heartbeat()
	}
}

// Leave starts this node's departure, before its sessions are closed
// (shutdown): the keys of sessions that end from now on stay in the
// directory until Close, whose goodbye (see leftLocked) makes the other
// nodes report every such user that has no session elsewhere, so friends
// learn who went offline even though this node, shutting down, no longer
// tells them itself.
func (n *Node) Leave() { n.leaving.Store(true) }

// Abandon drops the bus connection without leaving: the directory keeps
// this node's sessions until the other nodes declare it dead, as after
// kill -9. For tests of node loss; Close after it does nothing more.
func (n *Node) Abandon() {
	if !n.closed.CompareAndSwap(false, true) {
		return
	}
	n.cancel()
	n.nc.Close()
	n.wg.Wait()
}

// Close leaves the cluster: this node's keys are deleted, its heartbeat
// first (so the others report its users at once rather than after
// DeadAfter, see Leave), then the connection is drained and closed.
func (n *Node) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	n.cancel()
	n.wg.Wait()
	if n.handler.Load() != nil && n.nc.IsConnected() {
		n.ownMu.Lock()
		keys := make([]string, 0, len(n.own))
		for k := range n.own {
			keys = append(keys, k)
		}
		n.ownMu.Unlock()
		kv := n.bucket()
		// The heartbeat first: the others take its deletion as this
		// node's goodbye while its sessions are still in their replicas,
		// and report the users who have no session left (see leftLocked).
		for _, k := range append([]string{"n." + n.cfg.NodeID}, keys...) {
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Timeout)
			_ = kv.Delete(ctx, k)
			cancel()
		}
	}
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.nc.Close()
	return nil
}
