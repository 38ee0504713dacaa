package main

import (
	"testing"

	"github.com/chatd/chatd/bench/internal/servertest"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/tlscert"
)

func TestEcho(t *testing.T) {
	servertest.CheckEchoOver(t, tlscert.Dial, servertest.Start(t, serve, srvmain.ModeEcho))
}
