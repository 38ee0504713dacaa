package service

import (
	"testing"

	"github.com/chatd/chatd/protocol"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Limits: protocol.Limits{MaxFrameBody: 4096}}.withDefaults()
	want := protocol.DefaultLimits()
	want.MaxFrameBody = 4096
	if c.Limits != want {
		t.Fatalf("limits %+v, want %+v", c.Limits, want)
	}
	if c.ChatAddr != ":9000" || c.FileAddr != ":9001" || c.IdleTimeout.Seconds() != 90 || c.LoginFailuresPerUser != 5 ||
		c.LoginFailuresPerIP != 60 || c.MsgRate != 50 || c.MsgBurst != 100 || c.MaxOutbound != 4<<20 || c.Workers != 1024 ||
		c.TokenTTL.Hours() != 30*24 || c.Loops < 1 {
		t.Fatalf("defaults %+v", c)
	}
	if _, err := New(Config{}); err != ErrNoStore {
		t.Fatalf("New without store: %v", err)
	}
}
