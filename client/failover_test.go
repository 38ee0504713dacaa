package client

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

func TestSplitAddrs(t *testing.T) {
	for in, want := range map[string]string{
		"a:1":             "[a:1]",
		"a:1,b:2":         "[a:1 b:2]",
		" a:1 , ,b:2 ,":   "[a:1 b:2]",
		"":                "[]",
		"[::1]:9000,c:30": "[[::1]:9000 c:30]",
	} {
		if got := fmt.Sprint(SplitAddrs(in)); got != want {
			t.Errorf("SplitAddrs(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestDialSpreadsOverNodes: clients dialled with the same list of three
// nodes land on each node in turn.
func TestDialSpreadsOverNodes(t *testing.T) {
	s := newFakeServer(t)
	addrs := []string{s.addr(), s.addNode(t), s.addNode(t)}
	list := addrs[0] + "," + addrs[1] + "," + addrs[2]
	per := map[string]int{}
	for range 6 {
		c := dialT(t, list, Options{PingInterval: -1})
		per[c.Addr()]++
	}
	for _, a := range addrs {
		if per[a] != 2 {
			t.Fatalf("clients per node %v, want 2 on each of %v", per, addrs)
		}
	}
}

// TestDialSkipsRefusedNode: a node that refuses connections is skipped,
// whichever address a Dial starts at; Dial fails only when all refuse.
func TestDialSkipsRefusedNode(t *testing.T) {
	s := newFakeServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for range 4 {
		c := dialT(t, dead+","+s.addr(), Options{PingInterval: -1})
		if c.Addr() != s.addr() {
			t.Fatalf("client on %s, want the live node %s", c.Addr(), s.addr())
		}
	}
	if _, err := Dial(ctxT(t), dead+","+dead, Options{}); err == nil {
		t.Fatal("Dial succeeded with every node down")
	}
	if _, err := Dial(ctxT(t), " , ", Options{}); err == nil {
		t.Fatal("Dial succeeded without an address")
	}
}

// TestFailoverToOtherNode: bob's node is killed; he fails over to the
// other node, logs in there with his token and gets every message alice
// sent, before and after the kill, exactly once, the unacked ones too.
func TestFailoverToOtherNode(t *testing.T) {
	s := newFakeServer(t)
	list := s.addr() + "," + s.addNode(t)
	s.addUser("alice", "password1")
	bobID := s.addUser("bob", "password2")
	ctx := ctxT(t)
	opts := Options{Reconnect: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	a := dialT(t, list, opts)
	states := make(chan State, 16)
	bopts := opts
	bopts.OnState = func(st State, _ error) { states <- st }
	b := dialT(t, list, bopts)
	loginT(t, a, "alice", "password1")
	loginT(t, b, "bob", "password2")
	sendNumbered(t, a, bobID, 1, 3)
	var got []string
	for range 3 {
		got = append(got, nextMsg(t, b).Body)
	}
	if err := b.Ack(ctx, protocol.PrivateConv(a.UserID(), bobID), 1); err != nil {
		t.Fatal(err)
	}
	lost := b.Addr()
	s.killNode(lost)
	if st := recv(t, states, "no state change after the kill"); st != StateReconnecting {
		t.Fatalf("state %v, want reconnecting", st)
	}
	// alice may have been on the killed node too: her sends wait for her
	// own fail-over.
	sendNumbered(t, a, bobID, 4, 6)
	if st := recv(t, states, "bob did not reconnect"); st != StateConnected {
		t.Fatalf("state %v, want connected", st)
	}
	if b.Addr() == lost {
		t.Fatalf("bob reconnected to the killed node %s", lost)
	}
	if s.connsOn(lost) != 0 {
		t.Fatal("a connection reached the killed node")
	}
	for len(got) < 6 {
		got = append(got, nextMsg(t, b).Body)
	}
	noMsg(t, b)
	if want := "[m1 m2 m3 m4 m5 m6]"; fmt.Sprint(got) != want {
		t.Fatalf("bob saw %v, want %s", got, want)
	}
}

// TestSendRetriedWhileNodeDrains: the node answers UNAVAILABLE (it is
// shutting down), then closes; the send goes through on the other node,
// stored once.
func TestSendRetriedWhileNodeDrains(t *testing.T) {
	s := newFakeServer(t)
	list := s.addr() + "," + s.addNode(t)
	s.addUser("alice", "password1")
	bobID := s.addUser("bob", "password2")
	a := dialT(t, list, Options{Reconnect: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	loginT(t, a, "alice", "password1")
	draining := a.Addr()
	s.drainNode(draining)
	done := make(chan error, 1)
	go func() {
		_, err := a.Send(ctxT(t), bobID, "handed off")
		done <- err
	}()
	// The send is refused while the node drains, and retried ...
	for s.lastRequest(protocol.OpMsgSend) == "" {
		time.Sleep(time.Millisecond)
	}
	// ... until the node closes its connections and the client moves.
	s.killNode(draining)
	if err := recv(t, done, "the send never completed"); err != nil {
		t.Fatalf("send: %v", err)
	}
	if a.Addr() == draining {
		t.Fatal("client still on the drained node")
	}
	s.mu.Lock()
	n := len(s.msgs[protocol.PrivateConv(a.UserID(), bobID)])
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("stored %d messages, want 1", n)
	}

	// Without Reconnect the application gets the UNAVAILABLE itself.
	other := a.Addr()
	c := dialT(t, other, Options{})
	loginT(t, c, "bob", "password2")
	s.drainNode(other)
	if _, err := c.Send(ctxT(t), a.UserID(), "refused"); protocol.CodeOf(err) != protocol.CodeUnavailable {
		t.Fatalf("send without Reconnect on a draining node: %v", err)
	}
}
