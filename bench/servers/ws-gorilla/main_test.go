package main

import (
	"testing"

	"github.com/chatd/chatd/bench/internal/servertest"
)

func TestWebSocket(t *testing.T) { servertest.CheckWebSocketServer(t, serve) }
