package main

import (
	"testing"

	"github.com/chatd/chatd/bench/internal/servertest"
	"github.com/chatd/chatd/bench/internal/srvmain"
)

func TestEcho(t *testing.T) {
	servertest.CheckEcho(t, servertest.Start(t, serve, srvmain.ModeEcho))
}

func TestBroadcast(t *testing.T) {
	servertest.CheckBroadcast(t, servertest.Start(t, serve, srvmain.ModeBroadcast))
}
