package service

import (
	"crypto/tls"
	"errors"
	"reflect"
	"runtime"
	"time"

	"github.com/chatd/chatd/cluster"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/auth"
	"github.com/chatd/chatd/store"
	"github.com/rs/zerolog"
)

// Argon2Params are the argon2id cost parameters for password hashes.
type Argon2Params struct {
	MemoryKiB uint32 // 0 = 19456 (19 MiB)
	Time      uint32 // 0 = 2
	Threads   uint8  // 0 = 1
}

// Config holds everything the chat server needs; zero values mean the
// contract's defaults.
type Config struct {
	ChatAddr             string          // default ":9000"
	FileAddr             string          // address announced/used for the file port (files issue); default ":9001"
	Store                store.Store     // required
	Limits               protocol.Limits // protocol.DefaultLimits() when zero
	IdleTimeout          time.Duration   // default 90s
	LoginFailuresPerUser int             // per minute; default 5
	LoginFailuresPerIP   int             // per minute; default 60
	MsgRate              float64         // messages/s per connection, default 50
	MsgBurst             int             // default 100
	TypingRate           float64         // msg.typing requests/s per connection (burst the same), default 5
	RecallWindow         time.Duration   // how long a sender may recall its own message, default 2 minutes
	MaxOutbound          int             // per-connection outbound queue bytes, default 4 MiB
	Loops                int             // reactor loops, default GOMAXPROCS
	// CoalesceWindow is the reactor's (reactor.Options.CoalesceWindow):
	// under a stream of fan-outs each receiver's frames gather for up to
	// this long and leave in one writev; default 2ms, negative turns it off.
	CoalesceWindow time.Duration
	Workers        int           // store worker pool size, default 1024
	TokenTTL       time.Duration // default 30 days
	Argon2         Argon2Params  // zero = m=19 MiB, t=2, p=1; tests use a cheap setting
	ServerName     string        // for discovery/kick addr etc.
	Version        string
	Logger         zerolog.Logger

	// MaxPending bounds the requests queued for the worker pool; past it a
	// request is answered UNAVAILABLE. Default 64 × Workers.
	MaxPending int
	// HashConcurrency caps concurrent argon2 computations; default GOMAXPROCS.
	HashConcurrency int
	// TLS, when set, makes the chat port accept TLS (1.2 or 1.3) beside
	// plaintext on the same port, and the file port too (section 17).
	TLS *tls.Config
	// RequireTLS closes chat and file connections that do not start a TLS
	// handshake. It needs TLS.
	RequireTLS bool
	// WSOrigins restricts the Origin of WebSocket upgrades on the chat port
	// (403 otherwise); empty accepts any origin.
	WSOrigins []string

	// Router and Rooms replace the in-memory presence/routing and room
	// state (a multi-node deployment); nil means in-memory.
	Router Router
	Rooms  Rooms
	// Cluster, when set, makes this server one node of several sharing
	// the store (which must then be MySQL) and a NATS bus (section 19):
	// pushes, presence, kicks and cache changes reach the other nodes.
	// The caller connects it before New and closes it after Shutdown.
	Cluster *cluster.Node
	// RoomAnnounceMax is the room size up to which joins and leaves are
	// announced one by one; above it members get coalesced count events
	// (section 16). Default 500.
	RoomAnnounceMax int

	// clock replaces time.Now for the failed-login limiter (tests).
	clock func() time.Time
}

// DefaultCoalesceWindow is Config.CoalesceWindow's default: the most a
// push waits for others to the same connections while the loops are busy
// with fan-out. In the group scenario (400 receivers) 2ms cut chatd's CPU
// per delivery by a sixth more than 1ms did, and the p99 with it, since
// CPU is what the scenario waits for; a lone message after a quiet spell,
// and replies to requests, are not held.
const DefaultCoalesceWindow = 2 * time.Millisecond

// ErrNoStore is returned by New when Config.Store is nil.
var ErrNoStore = errors.New("service: Config.Store is required")

// withDefaults fills the zero fields with the contract's defaults.
func (c Config) withDefaults() Config {
	if c.ChatAddr == "" {
		c.ChatAddr = ":9000"
	}
	if c.FileAddr == "" {
		c.FileAddr = ":9001"
	}
	c.Limits = limitsWithDefaults(c.Limits)
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 90 * time.Second
	}
	if c.LoginFailuresPerUser == 0 {
		c.LoginFailuresPerUser = 5
	}
	if c.LoginFailuresPerIP == 0 {
		c.LoginFailuresPerIP = 60
	}
	if c.MsgRate == 0 {
		c.MsgRate = 50
	}
	if c.MsgBurst == 0 {
		c.MsgBurst = 100
	}
	if c.TypingRate == 0 {
		c.TypingRate = 5
	}
	if c.RecallWindow == 0 {
		c.RecallWindow = 2 * time.Minute
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = 4 << 20
	}
	if c.Loops == 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.CoalesceWindow == 0 {
		c.CoalesceWindow = DefaultCoalesceWindow
	}
	if c.Workers == 0 {
		c.Workers = 1024
	}
	if c.MaxPending == 0 {
		c.MaxPending = 64 * c.Workers
	}
	if c.RoomAnnounceMax == 0 {
		c.RoomAnnounceMax = 500
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = 30 * 24 * time.Hour
	}
	if c.ServerName == "" {
		c.ServerName = "chatd"
	}
	return c
}

// NewPasswordHasher returns a hasher like the one a server built from c
// hashes passwords with at register and account.password: the same
// argon2id parameters, so a password set without the server (chatd user
// reset-password) is stored exactly as registration would store it.
func NewPasswordHasher(c Config) *auth.Hasher {
	return auth.NewHasher(c.Argon2.auth(), c.HashConcurrency)
}

// CheckPassword applies registration's password rules (the limits in
// c.Limits, the contract's defaults where unset) to a password set
// without the server.
func (c Config) CheckPassword(password string) error {
	l := limitsWithDefaults(c.Limits)
	return l.CheckPassword(password)
}

func (p Argon2Params) auth() auth.Params {
	return auth.Params{MemoryKiB: p.MemoryKiB, Time: p.Time, Threads: p.Threads}.OrDefault()
}

// limitsWithDefaults fills every zero field of l with the contract's
// default, so a caller may set only the limits it cares about.
func limitsWithDefaults(l protocol.Limits) protocol.Limits {
	d := protocol.DefaultLimits()
	v, dv := reflect.ValueOf(&l).Elem(), reflect.ValueOf(d)
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() && f.IsZero() {
			f.Set(dv.Field(i))
		}
	}
	return l
}
