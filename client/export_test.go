package client

import (
	"net"
	"testing"
)

// StartExampleServer starts the in-process fake server for the examples in
// package client_test and returns its address and a stop function.
func StartExampleServer() (string, func()) {
	s, err := startFakeServer()
	if err != nil {
		panic(err)
	}
	return s.addr(), s.stop
}

// BenchPings measures pipelined pings to the server at addr, for the
// benchmarks against the real chatd in package client_test.
func BenchPings(b *testing.B, addr string) { benchPings(b, addr) }

// StartExampleCluster starts the fake server with two nodes (listeners on
// the same accounts and messages) for the fail-over example; it returns
// both addresses as Dial takes them, a function that kills one node (its
// listener and connections) and a stop function.
func StartExampleCluster() (addrs string, kill func(addr string), stop func()) {
	s, err := startFakeServer()
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.nodes = append(s.nodes, ln)
	s.mu.Unlock()
	go s.acceptLoop(ln)
	return s.addr() + "," + ln.Addr().String(), s.killNode, s.stop
}
