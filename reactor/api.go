package reactor

import (
	"context"
	"net"
	"time"
)

// The reactor has two builds of Engine, Conn and LayerIO: the epoll loops
// (*_linux.go) and the goroutine-per-connection fallback (*_other.go, and
// on Linux with the reactor_netfallback tag). This file is compiled in both,
// so a build that lacks one of these, or gives it another signature, does
// not compile. Add a line here with every exported function or method added
// to either build.
var (
	_ func(Handler, Options) (*Engine, error)                       = New
	_ func([]byte, []*Conn) int                                     = WriteBatch
	_ func(*Engine, string, string) (net.Addr, error)               = (*Engine).Listen
	_ func(*Engine) error                                           = (*Engine).Serve
	_ func(*Engine, context.Context, string, string) (*Conn, error) = (*Engine).Dial
	_ func(*Engine, context.Context) error                          = (*Engine).Shutdown
	_ func(*Engine) Stats                                           = (*Engine).Stats
	_ func(*Engine, time.Duration, func()) func() bool              = (*Engine).AfterFunc

	_ func(*Conn) uint64           = (*Conn).ID
	_ func(*Conn) net.Addr         = (*Conn).LocalAddr
	_ func(*Conn) net.Addr         = (*Conn).RemoteAddr
	_ func(*Conn) any              = (*Conn).Context
	_ func(*Conn, any)             = (*Conn).SetContext
	_ func(*Conn, []byte) error    = (*Conn).Write
	_ func(*Conn, []byte) error    = (*Conn).WriteCopy
	_ func(*Conn, ...[]byte) error = (*Conn).Writev
	_ func(*Conn, []byte) bool     = (*Conn).WriteLossy
	_ func(*Conn) error            = (*Conn).Close
	_ func(*Conn, time.Duration)   = (*Conn).SetIdleTimeout
	_ func(*Conn) int              = (*Conn).Outbound
	_ func(*Conn, Layer) error     = (*Conn).PushLayer

	_ func(*LayerIO) *Conn        = (*LayerIO).Conn
	_ func(*LayerIO, []byte)      = (*LayerIO).Up
	_ func(*LayerIO, []byte)      = (*LayerIO).Down
	_ func(*LayerIO, []byte)      = (*LayerIO).DownCopy
	_ func(*LayerIO, int) []byte  = (*LayerIO).Reserve
	_ func(*LayerIO, []byte)      = (*LayerIO).Commit
	_ func(*LayerIO, []byte) bool = (*LayerIO).Post
	_ func(*LayerIO) bool         = (*LayerIO).Wake
	_ func(*LayerIO, bool)        = (*LayerIO).Hold
)
