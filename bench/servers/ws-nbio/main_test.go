// nbio v1.6.8 races with itself on accept (nbhttp/engine.go:340 writes a
// conn field that the poller reads in nbhttp/processor.go:230), so under the
// race detector this check would report nbio's bug, not ours: it runs in
// builds without -race.

//go:build !race

package main

import (
	"testing"

	"github.com/chatd/chatd/bench/internal/servertest"
)

func TestWebSocket(t *testing.T) { servertest.CheckWebSocketServer(t, serve) }
