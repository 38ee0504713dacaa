package files

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Purpose says what a token allows; a token of one purpose is refused for
// the other.
type Purpose byte

// Token purposes.
const (
	// PurposeUpload allows uploading one file's bytes (issued by file.offer
	// to the file's owner).
	PurposeUpload Purpose = 1
	// PurposeDownload allows downloading one complete file (issued by
	// file.fetch to a conversation member).
	PurposeDownload Purpose = 2
)

// String names the purpose.
func (p Purpose) String() string {
	switch p {
	case PurposeUpload:
		return "upload"
	case PurposeDownload:
		return "download"
	}
	return fmt.Sprintf("purpose(%d)", byte(p))
}

// DefaultTokenTTL is the contract's token lifetime.
const DefaultTokenTTL = time.Hour

// SecretSize is the size of a generated token secret; configured secrets
// must be at least MinSecretSize bytes.
const (
	SecretSize    = 32
	MinSecretSize = 16
)

// SecretFile is the name of the secret file in the data directory.
const SecretFile = "file-token.key"

// Token layout before base64url (no padding): version (1), purpose (1),
// user id (8), file id (8), expiry unix seconds (8), then HMAC-SHA256 of
// those 26 bytes (32). 58 bytes encode to 78 characters.
const (
	tokenVersion    = 1
	tokenClaimsSize = 1 + 1 + 8 + 8 + 8
	tokenRawSize    = tokenClaimsSize + sha256.Size
)

// TokenLen is the length of every encoded token, in characters.
var TokenLen = base64.RawURLEncoding.EncodedLen(tokenRawSize)

// Token errors. All of them are answered with BAD_CREDENTIALS on the file
// port (the contract's code for "invalid/expired token").
var (
	// ErrTokenInvalid: not a token this server signed (malformed, forged,
	// signed with another secret, or of an unknown version).
	ErrTokenInvalid = errors.New("files: invalid token")
	// ErrTokenExpired: correctly signed but past its expiry.
	ErrTokenExpired = errors.New("files: token expired")
	// ErrTokenPurpose: correctly signed but for the other purpose.
	ErrTokenPurpose = errors.New("files: token for another purpose")
)

// Claims is what a verified token says.
type Claims struct {
	Purpose Purpose
	UserID  int64
	FileID  int64
	Expires time.Time // whole seconds
}

// Signer issues and verifies transfer tokens with HMAC-SHA256 under a
// server secret. It is safe for concurrent use.
type Signer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewSigner returns a Signer with the given secret (at least MinSecretSize
// bytes), token lifetime (DefaultTokenTTL when 0) and clock (time.Now when
// nil).
func NewSigner(secret []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("files: token secret of %d bytes, need at least %d", len(secret), MinSecretSize)
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: append([]byte(nil), secret...), ttl: ttl, now: now}, nil
}

// Issue returns a token allowing userID the purpose on fileID until the
// Signer's TTL from now.
func (s *Signer) Issue(p Purpose, userID, fileID int64) string {
	return s.issueAt(p, userID, fileID, s.now().Add(s.ttl))
}

func (s *Signer) issueAt(p Purpose, userID, fileID int64, exp time.Time) string {
	var raw [tokenRawSize]byte
	raw[0] = tokenVersion
	raw[1] = byte(p)
	binary.BigEndian.PutUint64(raw[2:], uint64(userID))
	binary.BigEndian.PutUint64(raw[10:], uint64(fileID))
	binary.BigEndian.PutUint64(raw[18:], uint64(exp.Unix()))
	s.mac(raw[tokenClaimsSize:tokenClaimsSize], raw[:tokenClaimsSize])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// mac appends the HMAC of claims to dst.
func (s *Signer) mac(dst, claims []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(claims)
	return m.Sum(dst)
}

// Verify checks a token's signature (in constant time), expiry and purpose
// and returns its claims. Errors wrap ErrTokenInvalid, ErrTokenExpired or
// ErrTokenPurpose; they never contain the token.
func (s *Signer) Verify(token string, want Purpose) (Claims, error) {
	if len(token) != TokenLen {
		return Claims{}, fmt.Errorf("token of %d characters: %w", len(token), ErrTokenInvalid)
	}
	var raw [tokenRawSize]byte
	n, err := base64.RawURLEncoding.Decode(raw[:], []byte(token))
	if err != nil || n != tokenRawSize {
		return Claims{}, fmt.Errorf("token not base64url: %w", ErrTokenInvalid)
	}
	var sum [sha256.Size]byte
	if !hmac.Equal(s.mac(sum[:0], raw[:tokenClaimsSize]), raw[tokenClaimsSize:]) {
		return Claims{}, fmt.Errorf("token signature: %w", ErrTokenInvalid)
	}
	if raw[0] != tokenVersion {
		return Claims{}, fmt.Errorf("token version %d: %w", raw[0], ErrTokenInvalid)
	}
	c := Claims{
		Purpose: Purpose(raw[1]),
		UserID:  int64(binary.BigEndian.Uint64(raw[2:])),
		FileID:  int64(binary.BigEndian.Uint64(raw[10:])),
		Expires: time.Unix(int64(binary.BigEndian.Uint64(raw[18:])), 0),
	}
	if !s.now().Before(c.Expires) {
		return Claims{}, fmt.Errorf("token expired at %s: %w", c.Expires.UTC().Format(time.RFC3339), ErrTokenExpired)
	}
	if c.Purpose != want {
		return Claims{}, fmt.Errorf("%s token used to %s: %w", c.Purpose, want, ErrTokenPurpose)
	}
	return c, nil
}

// LoadOrCreateSecret returns the token secret kept in dir/SecretFile,
// creating dir and a fresh random secret (mode 0600) on first start. A
// secret file that is too short is an error rather than silently replaced:
// replacing it would invalidate every outstanding token.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("files: create data dir: %w", err)
	}
	path := filepath.Join(dir, SecretFile)
	secret, err := os.ReadFile(path)
	if err == nil {
		if len(secret) < MinSecretSize {
			return nil, fmt.Errorf("files: secret file %s holds %d bytes, need at least %d", path, len(secret), MinSecretSize)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("files: read secret: %w", err)
	}
	secret = make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("files: generate secret: %w", err)
	}
	// Write under a temporary name and link it into place, so that two
	// processes starting at once agree on one secret and neither ever reads
	// a half-written file.
	tmp, err := os.CreateTemp(dir, SecretFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("files: create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("files: chmod secret: %w", err)
	}
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("files: write secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("files: sync secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("files: close secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateSecret(dir) // another process won the race
		}
		return nil, fmt.Errorf("files: install secret: %w", err)
	}
	return secret, syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("files: open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("files: sync dir: %w", err)
	}
	return nil
}
