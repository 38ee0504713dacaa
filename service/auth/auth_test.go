package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

var cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h := NewHasher(cheap, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoding %q", enc)
	}
	if err := h.Verify(ctx, enc, "correct horse"); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := h.Verify(ctx, enc, "wrong horse"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyUsesStoredParams(t *testing.T) {
	ctx := context.Background()
	enc, err := NewHasher(Params{MemoryKiB: 128, Time: 2, Threads: 1}, 1).Hash(ctx, "pw-12345")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewHasher(cheap, 1).Verify(ctx, enc, "pw-12345"); err != nil {
		t.Fatalf("verify with other current params: %v", err)
	}
}

func TestMalformedHash(t *testing.T) {
	h := NewHasher(cheap, 1)
	for _, s := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5"} {
		if err := h.Verify(context.Background(), s, "x"); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestHashWaitsForSlot(t *testing.T) {
	h := NewHasher(cheap, 1)
	h.sem <- struct{}{} // occupy the only slot
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("hash with full slots and dead ctx: %v", err)
	}
}

func TestToken(t *testing.T) {
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not 32 bytes of base64url", tok)
	}
	if string(HashToken(tok)) != string(hash) || len(hash) != 32 {
		t.Fatal("hash mismatch")
	}
	tok2, _, _ := NewToken()
	if tok2 == tok {
		t.Fatal("tokens repeat")
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := NewHasher(Params{}, 1)
	enc, _ := h.Hash(context.Background(), "password1")
	for b.Loop() {
		_ = h.Verify(context.Background(), enc, "password1")
	}
}

// FuzzVerify feeds arbitrary encoded hashes to the PHC parser: it must
// never panic, and only a well-formed hash may verify.
func FuzzVerify(f *testing.F) {
	h := NewHasher(cheap, 1)
	good, _ := h.Hash(context.Background(), "password1")
	f.Add(good, "password1")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "x")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "x")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		err := h.Verify(context.Background(), enc, pw)
		if err == nil && !strings.HasPrefix(enc, "$argon2id$v=19$") {
			t.Fatalf("verified a malformed hash %q", enc)
		}
	})
}
