package client

import "testing"

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
