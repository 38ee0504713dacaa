package files

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testSecret = bytes.Repeat([]byte{7}, 32)

func TestTokenRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s, err := NewSigner(testSecret, 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Issue(PurposeUpload, 42, 1<<52)
	if len(tok) != TokenLen {
		t.Fatalf("token length %d, want %d", len(tok), TokenLen)
	}
	if strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not unpadded base64url", tok)
	}
	c, err := s.Verify(tok, PurposeUpload)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Purpose: PurposeUpload, UserID: 42, FileID: 1 << 52, Expires: now.Add(time.Hour)}
	if c != want {
		t.Fatalf("claims %+v, want %+v", c, want)
	}
}

func TestTokenRejections(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	s, _ := NewSigner(testSecret, time.Hour, clock)
	other, _ := NewSigner(bytes.Repeat([]byte{8}, 32), time.Hour, clock)
	up := s.Issue(PurposeUpload, 1, 2)

	flipped := []byte(up)
	// Flip a bit in the user id: the signature no longer matches.
	if flipped[5] == 'A' {
		flipped[5] = 'B'
	} else {
		flipped[5] = 'A'
	}
	cases := []struct {
		name  string
		token string
		want  Purpose
		err   error
	}{
		{"empty", "", PurposeUpload, ErrTokenInvalid},
		{"garbage", strings.Repeat("!", TokenLen), PurposeUpload, ErrTokenInvalid},
		{"truncated", up[:TokenLen-1], PurposeUpload, ErrTokenInvalid},
		{"padded", up + "=", PurposeUpload, ErrTokenInvalid},
		{"tampered claims", string(flipped), PurposeUpload, ErrTokenInvalid},
		{"other secret", other.Issue(PurposeUpload, 1, 2), PurposeUpload, ErrTokenInvalid},
		{"wrong purpose", up, PurposeDownload, ErrTokenPurpose},
		{"expired", s.issueAt(PurposeUpload, 1, 2, now), PurposeUpload, ErrTokenExpired},
		{"unknown purpose", s.Issue(Purpose(9), 1, 2), PurposeUpload, ErrTokenPurpose},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Verify(tc.token, tc.want)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Verify: %v, want %v", err, tc.err)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("error message contains the token")
			}
		})
	}
}

func TestTokenExpiresAfterTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s, _ := NewSigner(testSecret, time.Hour, func() time.Time { return now })
	tok := s.Issue(PurposeDownload, 1, 2)
	now = now.Add(time.Hour - time.Second)
	if _, err := s.Verify(tok, PurposeDownload); err != nil {
		t.Fatalf("valid just before expiry: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := s.Verify(tok, PurposeDownload); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry: %v, want ErrTokenExpired", err)
	}
}

func TestNewSignerRejectsShortSecret(t *testing.T) {
	if _, err := NewSigner(make([]byte, MinSecretSize-1), 0, nil); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SecretSize {
		t.Fatalf("secret of %d bytes", len(a))
	}
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("second start produced another secret")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only the secret", len(entries))
	}
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(dir); err == nil {
		t.Fatal("short secret file accepted")
	}
}

func TestServerKeepsSecretAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	meta := newMemMeta()
	s1, err := New(Config{DataDir: dir, Meta: meta, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	tok := s1.UploadToken(1, 2)
	s1.Close()
	s2, err := New(Config{DataDir: dir, Meta: meta, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Signer().Verify(tok, PurposeUpload); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
}
