package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Meta is the file metadata the server needs; store.Store satisfies it.
type Meta interface {
	// File returns one file's metadata; an error wrapping
	// store.ErrNotFound when absent.
	File(ctx context.Context, fileID int64) (store.FileMeta, error)
	// MarkFileComplete records that the file was fully received and
	// verified at ts (unix ms).
	MarkFileComplete(ctx context.Context, fileID int64, ts int64) error
}

// CompleteFunc is told about a verified, complete upload. It may be called
// more than once for one file (a crash or failure between completion and
// announcement is repaired by calling it again on the next upload attempt
// with the same token), so it must be idempotent. An error makes the upload
// reply UNAVAILABLE; the client retries and the call is repeated.
type CompleteFunc func(ctx context.Context, f store.FileMeta) error

// Config configures a Server. Zero fields take the defaults named below.
type Config struct {
	// DataDir holds files/ (the bytes) and, unless Secret is set, the
	// token secret file. Required.
	DataDir string
	// Secret is the token HMAC key (at least MinSecretSize bytes). When
	// empty it is loaded from, or created in, DataDir/SecretFile.
	Secret []byte
	// TokenTTL is how long issued tokens stay valid (1 h).
	TokenTTL time.Duration

	// Meta looks up file metadata and records completion. Required.
	Meta Meta
	// OnComplete is called after an upload was verified and renamed into
	// place and marked complete, before the final OK reply. May be nil.
	OnComplete CompleteFunc

	// CanDownload, when set, is asked before every download whether the
	// token's user may still read the file (for example still a member of
	// its conversation), so a token outliving a membership is refused. A
	// *protocol.Error it returns is the reply (FORBIDDEN, typically); other
	// errors are mapped like store errors.
	CanDownload func(ctx context.Context, userID int64, f store.FileMeta) error

	// Workers is the number of transfer goroutines (32): at most this many
	// connections are served at once.
	Workers int
	// Queue is how many accepted connections may wait for a free worker
	// (64); beyond that a connection is refused with UNAVAILABLE at once.
	Queue int
	// QueueWait is how long a queued connection waits for a worker before
	// it gets UNAVAILABLE (2 s).
	QueueWait time.Duration

	// HandshakeTimeout bounds reading the request frame (10 s).
	HandshakeTimeout time.Duration
	// IOTimeout is the longest a transfer may go without progress, reading
	// or writing (30 s); the deadline moves forward as bytes flow.
	IOTimeout time.Duration
	// BufferSize is each worker's upload copy buffer (256 KiB).
	BufferSize int
	// CPUSlots is how many workers may write and hash upload chunks at the
	// same moment (GOMAXPROCS-1, at least 1): on a small machine it keeps
	// a processor free for the chat event loops whatever the file load.
	CPUSlots int

	// RateLimit caps the bytes per second of all transfers together,
	// uploads and downloads (0: no cap).
	RateLimit int64
	// DisablePacing turns off adaptive pacing. By default transfers are
	// background traffic: while any is active, the server measures how late
	// its own threads wake (against a baseline taken with file bytes held
	// for a few milliseconds every 2 s) and slows all transfers down when
	// they make the process late while the processors are contended,
	// speeding up again when not: file load yields to chat traffic on a
	// busy machine and goes as fast as it likes where the processors have
	// room. RateLimit, when set, stays the ceiling; the current pace is the
	// chatd_file_pace_bytes_per_second gauge.
	DisablePacing bool

	// StaleAge is how old (by modification time) a .part file must be for
	// the cleaner to remove it (24 h).
	StaleAge time.Duration
	// CleanupInterval is how often the cleaner runs (1 h); negative
	// disables the ticker (CleanStale can still be called).
	CleanupInterval time.Duration

	// Now is the clock for tokens, completion times and the cleaner
	// (time.Now).
	Now func() time.Time
	// Logger receives transfer outcomes and faults (none when nil). Tokens
	// are never logged.
	Logger *zerolog.Logger

	// wrapPart lets tests inject write errors (disk full) into uploads.
	wrapPart func(io.Writer) io.Writer
}

// Defaults of Config.
const (
	DefaultWorkers          = 32
	DefaultQueue            = 64
	DefaultQueueWait        = 2 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIOTimeout        = 30 * time.Second
	DefaultBufferSize       = 256 << 10
	DefaultStaleAge         = 24 * time.Hour
	DefaultCleanupInterval  = time.Hour
)

// maxHandshakeBody bounds the request frame on the file port: a token and
// an offset fit in well under 1 KiB.
const maxHandshakeBody = 4 << 10

func (c *Config) fill() error {
	if c.DataDir == "" {
		return errors.New("files: Config.DataDir is required")
	}
	if c.Meta == nil {
		return errors.New("files: Config.Meta is required")
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Queue < 0 {
		c.Queue = 0
	} else if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.QueueWait <= 0 {
		c.QueueWait = DefaultQueueWait
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.BufferSize <= 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.CPUSlots <= 0 {
		c.CPUSlots = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if c.StaleAge <= 0 {
		c.StaleAge = DefaultStaleAge
	}
	if c.CleanupInterval == 0 {
		c.CleanupInterval = DefaultCleanupInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	if len(c.Secret) == 0 {
		secret, err := LoadOrCreateSecret(c.DataDir)
		if err != nil {
			return err
		}
		c.Secret = secret
	}
	return nil
}

// filesDir returns the files directory under dataDir, created if missing.
func filesDir(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "files")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("files: create %s: %w", dir, err)
	}
	return dir, nil
}

// handshakeLimits validate the file-port request bodies.
var handshakeLimits = protocol.DefaultLimits()
