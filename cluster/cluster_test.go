package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/rs/zerolog"
)

// recorder is a Handler that keeps what it gets.
type recorder struct {
	mu    sync.Mutex
	msgs  []string
	gone  map[string][]int64
	dead  []string
	edges []string // OnOwnSession calls with edge set: "+user.conn" or "-user.conn"
	own   int      // OnOwnSession calls
}

func (r *recorder) OnNodeDead(node string) {
	r.mu.Lock()
	r.dead = append(r.dead, node)
	r.mu.Unlock()
}

func (r *recorder) OnBusBack() {}

func (r *recorder) deadNodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.dead)
}

func (r *recorder) OnOwnSession(user int64, conn uint64, put, edge bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.own++
	if edge {
		sign := "-"
		if put {
			sign = "+"
		}
		r.edges = append(r.edges, fmt.Sprintf("%s%d.%d", sign, user, conn))
	}
}

func (r *recorder) ownEvents() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.own, slices.Clone(r.edges)
}

func (r *recorder) OnMessage(data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(data))
	r.mu.Unlock()
}

func (r *recorder) OnNodeGone(node string, users []int64) {
	r.mu.Lock()
	if r.gone == nil {
		r.gone = map[string][]int64{}
	}
	r.gone[node] = append(r.gone[node], users...)
	r.mu.Unlock()
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recorder) goneUsers(node string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.gone[node])
}

func join(t testing.TB, url, name, id string) (*cluster.Node, *recorder) {
	t.Helper()
	n, err := cluster.Connect(context.Background(), cluster.Config{URL: url, Name: name, NodeID: id,
		Heartbeat: 100 * time.Millisecond, DeadAfter: time.Second, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	r := &recorder{}
	if err := n.Attach(r); err != nil {
		t.Fatal(err)
	}
	return n, r
}

// eventually waits (generously) for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	start := time.Now()
	defer func() { t.Logf("%s after %v", what, time.Since(start)) }()
	for !cond() {
		if time.Now().After(deadline) {
			t.Logf("gave up on %s", what)
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDirectorySendAndBroadcast(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, ra := join(t, url, name, "a")
	b, rb := join(t, url, name, "b")

	a.PutSession(7, cluster.SessionInfo{Conn: 1, Device: "phone", Addr: "10.0.0.1:5", Since: 100})
	eventually(t, "b sees user 7 on a", func() bool { return b.Online(7) })
	if got := b.Nodes(nil, 7); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("b.Nodes(nil, 7) = %v", got)
	}
	if ss := b.Sessions(7); len(ss) != 1 || ss[0].Device != "phone" || ss[0].Node != "a" || ss[0].Addr != "10.0.0.1:5" {
		t.Fatalf("b.Sessions(7) = %+v", ss)
	}
	if a.Online(7) || len(a.Nodes(nil, 7)) != 0 {
		t.Fatal("a counts its own session as remote")
	}

	if err := b.Send("a", []byte("hello a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a gets b's message", func() bool { return slices.Contains(ra.messages(), "hello a") })

	eventually(t, "both nodes live", func() bool { return len(a.LiveNodes()) == 2 && len(b.LiveNodes()) == 2 })
	if err := a.Broadcast(context.Background(), []byte("to all")); err != nil {
		t.Fatal(err)
	}
	// Broadcast returns once every live node handled it.
	if !slices.Contains(rb.messages(), "to all") {
		t.Fatal("b had not handled the broadcast when it returned")
	}

	a.DeleteSession(7, 1)
	eventually(t, "b sees user 7 gone", func() bool { return !b.Online(7) })
}

// Announce returns only once every other live node holds the session, so
// a push decided anywhere right after it is sent to this node.
func TestAnnounceWaitsForEveryReplica(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, _ := join(t, url, name, "a")
	b, _ := join(t, url, name, "b")
	c, _ := join(t, url, name, "c")
	eventually(t, "three nodes live", func() bool { return len(a.LiveNodes()) == 3 })
	for conn := uint64(1); conn <= 50; conn++ {
		user := int64(1000 + conn)
		a.PutSession(user, cluster.SessionInfo{Conn: conn, Device: "d"})
		if err := a.Announce(context.Background(), user, conn); err != nil {
			t.Fatal(err)
		}
		if !b.Online(user) || !c.Online(user) {
			t.Fatalf("session %d: Announce returned before b (%v) and c (%v) held it", conn, b.Online(user), c.Online(user))
		}
	}
	// A session ended before the others saw it: they answer on its
	// deletion instead of waiting out the timeout.
	a.PutSession(2000, cluster.SessionInfo{Conn: 99})
	a.DeleteSession(2000, 99)
	if err := a.Announce(context.Background(), 2000, 99); err != nil {
		t.Fatal(err)
	}

	// A node that went silent but is not declared dead yet: Announce gives
	// up when its context ends instead of holding the login.
	c.Abandon()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	a.PutSession(3000, cluster.SessionInfo{Conn: 100})
	if err := a.Announce(ctx, 3000, 100); err == nil && len(a.LiveNodes()) == 3 {
		t.Fatal("Announce succeeded although c cannot answer")
	}
	// Once c failed to answer, the next logins wait for b alone (until c's
	// next heartbeat, which will not come), not for c's death.
	if len(a.LiveNodes()) == 3 {
		a.PutSession(3001, cluster.SessionInfo{Conn: 101})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := a.Announce(ctx, 3001, 101); err != nil {
			t.Fatalf("Announce still waits for the silent node: %v", err)
		}
		if !b.Online(3001) {
			t.Fatal("Announce returned before b held the session")
		}
	}
}

// Sessions of one user on two nodes come and go at the same moment: each
// node sees its own puts and deletes in the directory's order, and exactly
// one of them sees the user's first put and exactly one the last delete.
func TestOwnSessionEdges(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, ra := join(t, url, name, "a")
	b, rb := join(t, url, name, "b")
	const rounds = 20
	for i := range rounds {
		user := int64(5000 + i)
		a.PutSession(user, cluster.SessionInfo{Conn: uint64(i + 1)})
		b.PutSession(user, cluster.SessionInfo{Conn: uint64(i + 1)})
		eventually(t, "both sessions seen", func() bool { return a.Online(user) && b.Online(user) })
		a.DeleteSession(user, uint64(i+1))
		b.DeleteSession(user, uint64(i+1))
	}
	eventually(t, "every put and delete came back", func() bool {
		na, _ := ra.ownEvents()
		nb, _ := rb.ownEvents()
		return na == 2*rounds && nb == 2*rounds
	})
	_, ea := ra.ownEvents()
	_, eb := rb.ownEvents()
	for i := range rounds {
		for _, sign := range []string{"+", "-"} {
			key := fmt.Sprintf("%s%d.%d", sign, 5000+i, i+1)
			if n := count(ea, key) + count(eb, key); n != 1 {
				t.Fatalf("edge %s seen %d times (a %v, b %v)", key, n, ea, eb)
			}
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// A node that vanishes without leaving (kill -9) is declared dead: its
// sessions leave every replica and one survivor is told whose they were.
func TestDeadNodeIsReaped(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, ra := join(t, url, name, "a")
	b, _ := join(t, url, name, "b")
	b.PutSession(42, cluster.SessionInfo{Conn: 9, Device: "d"})
	b.PutSession(43, cluster.SessionInfo{Conn: 10, Device: "d"})
	eventually(t, "a sees b's users", func() bool { return a.Online(42) && a.Online(43) })
	b.Abandon()
	eventually(t, "a declares b dead", func() bool { return !a.Online(42) && !a.Online(43) })
	eventually(t, "a reaps b", func() bool { return slices.Equal(ra.goneUsers("b"), []int64{42, 43}) })

	// b's keys are gone from the bucket: a newcomer does not see them.
	c, _ := join(t, url, name, "c")
	c.PutSession(1, cluster.SessionInfo{Conn: 1})
	eventually(t, "a sees c", func() bool { return a.Online(1) })
	if c.Online(42) || c.Online(43) {
		t.Fatal("a newcomer sees the dead node's sessions")
	}
}

// A node that leaves (Leave, its sessions end, Close) is gone for the
// others at once: its users are reported, also those whose sessions ended
// after Leave (for the service to tell the friends of those without
// another session), and every node's observer hears of it.
func TestLeavingNodeIsReported(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, ra := join(t, url, name, "a")
	b, _ := join(t, url, name, "b")
	c, rc := join(t, url, name, "c")
	c.PutSession(42, cluster.SessionInfo{Conn: 9, Device: "d"})
	c.PutSession(43, cluster.SessionInfo{Conn: 10, Device: "d"})
	c.PutSession(44, cluster.SessionInfo{Conn: 11, Device: "d"})
	b.PutSession(43, cluster.SessionInfo{Conn: 1, Device: "e"})
	eventually(t, "a sees c's users", func() bool { return a.Online(42) && a.Online(44) && len(a.Sessions(43)) == 2 })
	c.Leave()
	c.DeleteSession(44, 11) // closed by c's shutdown
	c.Close()
	eventually(t, "a reports c's users", func() bool { return slices.Equal(ra.goneUsers("c"), []int64{42, 43, 44}) })
	if a.Online(42) || !a.Online(43) {
		t.Fatalf("after c left: 42 online %v, 43 online %v (want false, true: 43 has a session on b)", a.Online(42), a.Online(43))
	}
	eventually(t, "every node's observer hears c left", func() bool {
		return slices.Contains(ra.deadNodes(), "c")
	})
	if got := rc.goneUsers("c"); len(got) > 0 {
		t.Fatalf("the leaving node reported its own users: %v", got)
	}
	// Long before DeadAfter would have passed.
	for _, n := range a.LiveNodes() {
		if n == "c" {
			t.Fatal("c still live on a")
		}
	}
}

// A node restarted with the same id removes what its previous run left.
func TestRestartReapsOwnLeftovers(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, _ := join(t, url, name, "a")
	b, _ := join(t, url, name, "b")
	b.PutSession(5, cluster.SessionInfo{Conn: 3})
	eventually(t, "a sees user 5", func() bool { return a.Online(5) })
	b.Abandon()
	_, rb := join(t, url, name, "b")
	eventually(t, "the new b reports user 5 gone", func() bool { return slices.Equal(rb.goneUsers("b"), []int64{5}) })
	eventually(t, "a sees user 5 gone", func() bool { return !a.Online(5) })
}

// The bus drops and comes back: sessions written meanwhile reach the
// other node afterwards.
func TestBusOutageAndRecovery(t *testing.T) {
	srv := clustertest.Embedded(t)
	name := clustertest.Name(t, srv.URL())
	a, _ := join(t, srv.URL(), name, "a")
	b, _ := join(t, srv.URL(), name, "b")
	a.PutSession(1, cluster.SessionInfo{Conn: 1})
	eventually(t, "b sees user 1", func() bool { return b.Online(1) })
	srv.Stop()
	eventually(t, "a sees the bus down", func() bool { return !a.Up() && a.Check(context.Background()) != nil })
	a.PutSession(2, cluster.SessionInfo{Conn: 2})
	srv.Start()
	eventually(t, "a sees the bus up", func() bool { return a.Up() && a.Check(context.Background()) == nil })
	eventually(t, "b sees user 2 written during the outage", func() bool { return b.Online(2) })
	if !b.Online(1) {
		t.Fatal("user 1 lost by the outage")
	}
}

// A node's info reaches the others; it stops being named when the node
// leaves and when it dies without a goodbye.
func TestNodeInfo(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, _ := join(t, url, name, "a")
	b, _ := join(t, url, name, "b")
	c, _ := join(t, url, name, "c")
	if _, ok := b.Info("a"); ok {
		t.Fatal("info of a before a set any")
	}
	a.SetInfo([]byte("files at a"))
	c.SetInfo([]byte("files at c"))
	if got, ok := a.Info("a"); !ok || string(got) != "files at a" {
		t.Fatalf("a's own info %q %v", got, ok)
	}
	eventually(t, "b sees a's and c's info", func() bool {
		ia, oka := b.Info("a")
		ic, okc := b.Info("c")
		return oka && okc && string(ia) == "files at a" && string(ic) == "files at c"
	})
	if bip := b.BusIP(); bip == "" {
		t.Fatal("no bus IP")
	}

	c.Close() // leaves: its info goes at once, not after DeadAfter
	eventually(t, "c's info gone after Close", func() bool { _, ok := b.Info("c"); return !ok })
	a.Abandon() // killed: its key stays until reaped, but a is not live
	eventually(t, "a's info gone after a died", func() bool { _, ok := b.Info("a"); return !ok })
}

// What cluster rooms use: a cluster-wide counter that never repeats a
// value across nodes, sends that return once the receivers handled them,
// lossy sends, and every live node hearing of a dead node.
func TestClusterRoomPrimitives(t *testing.T) {
	url := clustertest.URL(t)
	name := clustertest.Name(t, url)
	a, ra := join(t, url, name, "a")
	b, rb := join(t, url, name, "b")
	c, _ := join(t, url, name, "c")
	eventually(t, "three live nodes", func() bool { return len(a.LiveNodes()) == 3 && len(b.LiveNodes()) == 3 })

	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for _, n := range []*cluster.Node{a, b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				id, err := n.NextID(context.Background(), "rooms")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(got)
	for i, id := range got {
		if id != int64(i+1) {
			t.Fatalf("counter values %v: want 1..30 once each", got)
		}
	}

	acks, err := a.PublishAcked([]string{"b", "c"}, []byte("acked"))
	if err != nil {
		t.Fatal(err)
	}
	if err := acks.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rb.messages(), "acked") {
		t.Fatalf("b answered before handling: %q", rb.messages())
	}
	if !a.SendLossy("b", []byte("media")) {
		t.Fatal("lossy send refused on an idle queue")
	}
	eventually(t, "lossy message at b", func() bool { return slices.Contains(rb.messages(), "media") })

	c.Abandon()
	eventually(t, "a hears c is dead", func() bool { return slices.Equal(ra.deadNodes(), []string{"c"}) })
	eventually(t, "b hears c is dead", func() bool { return slices.Equal(rb.deadNodes(), []string{"c"}) })
	acks, err = a.PublishAcked([]string{"b"}, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if err := acks.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDirectoryBurst is a burst of logins on one node: how long until
// another node's replica holds every new session (the directory writer's
// throughput, which every login's Announce waits on).
func BenchmarkDirectoryBurst(b *testing.B) {
	url := clustertest.URL(b)
	name := clustertest.Name(b, url)
	a, _ := join(b, url, name, "a")
	o, _ := join(b, url, name, "b")
	const burst = 500
	user := int64(0)
	b.ResetTimer()
	for range b.N {
		first := user + 1
		for range burst {
			user++
			a.PutSession(user, cluster.SessionInfo{Conn: uint64(user)})
		}
		deadline := time.Now().Add(20 * time.Second)
		for u := first; u <= user; u++ {
			for !o.Online(u) { // spun, not slept in 10 ms steps: the figure is the wait
				if time.Now().After(deadline) {
					b.Fatalf("session of user %d never reached b", u)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/session")
}

// BenchmarkNodesOfGroup: which nodes a push to a 1,000-member group goes
// to, with the members spread over two other nodes, asked member by
// member or in one call (what pushUsers does).
func BenchmarkNodesOfGroup(b *testing.B) {
	url := clustertest.URL(b)
	name := clustertest.Name(b, url)
	a, _ := join(b, url, name, "a")
	o1, _ := join(b, url, name, "b")
	o2, _ := join(b, url, name, "c")
	users := make([]int64, 1000)
	for i := range users {
		users[i] = int64(i + 1)
		o := o1
		if i%2 == 1 {
			o = o2
		}
		o.PutSession(users[i], cluster.SessionInfo{Conn: uint64(i + 1)})
	}
	for _, u := range users {
		eventually(b, "a sees every member", func() bool { return a.Online(u) })
	}
	b.Run("per-member", func(b *testing.B) {
		for range b.N {
			var nodes []string
			for _, u := range users {
				for _, id := range a.Nodes(nil, u) {
					if !slices.Contains(nodes, id) {
						nodes = append(nodes, id)
					}
				}
			}
		}
	})
	b.Run("one-call", func(b *testing.B) {
		for range b.N {
			var buf [8]string
			_ = a.Nodes(buf[:0], users...)
		}
	})
}
