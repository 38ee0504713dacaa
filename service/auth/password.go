package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	MemoryKiB uint32 // memory in KiB (19456 = 19 MiB, OWASP's minimum)
	Time      uint32 // passes
	Threads   uint8  // parallelism
}

// DefaultParams is OWASP's recommended minimum for argon2id: m=19 MiB, t=2,
// p=1 (about 80 ms of CPU per hash on the target machine).
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// OrDefault returns p, or DefaultParams for the zero value; a partly set
// value gets the defaults for its zero fields.
func (p Params) OrDefault() Params {
	if p.MemoryKiB == 0 {
		p.MemoryKiB = DefaultParams.MemoryKiB
	}
	if p.Time == 0 {
		p.Time = DefaultParams.Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultParams.Threads
	}
	return p
}

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("auth: password does not match")

// ErrMalformedHash is returned for an encoded hash this package cannot read.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Hasher hashes and verifies passwords, running at most a fixed number of
// argon2 computations at once: logins are CPU-bound by design, and without a
// cap a burst of them would take every core and much memory.
type Hasher struct {
	params Params
	sem    chan struct{}
}

// NewHasher returns a Hasher with params (zero = DefaultParams) that runs at
// most concurrency hashes at once (0 = GOMAXPROCS).
func NewHasher(params Params, concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	return &Hasher{params: params.OrDefault(), sem: make(chan struct{}, concurrency)}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting for a hash slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC-encoded argon2id hash of password with a fresh
// random salt. It waits for a free hash slot or ctx.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return encode(p, salt, key), nil
}

// Verify checks password against an encoded hash in constant time, using
// the parameters stored in the hash. It returns nil on a match, ErrMismatch
// on a wrong password and ErrMalformedHash when encoded cannot be parsed.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) error {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// maxMemoryKiB bounds the memory a stored hash may ask for, so a corrupted
// or hostile hash string cannot make a login allocate gigabytes.
const maxMemoryKiB = 1 << 20

func decode(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Time == 0 || p.Time > 64 || p.Threads == 0 {
		return p, nil, nil, ErrMalformedHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
