package main

import (
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/bench/internal/servertest"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
)

func dialWS(addr string) (net.Conn, error) { return wsclient.Dial(addr, 5*time.Second) }

func TestEcho(t *testing.T) {
	servertest.CheckEchoOver(t, dialWS, servertest.Start(t, serve, srvmain.ModeEcho))
}

func TestBroadcast(t *testing.T) {
	servertest.CheckBroadcastOver(t, dialWS, servertest.Start(t, serve, srvmain.ModeBroadcast), true)
}
