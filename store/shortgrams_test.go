package store

import (
	"strings"
	"testing"
)

// shortGramsByString is shortGrams as first written, one string per gram:
// the reference the faster one must match byte for byte.
func shortGramsByString(s string) string {
	seen := map[string]bool{}
	var b strings.Builder
	add := func(g string) {
		if !seen[g] {
			seen[g] = true
			b.WriteString(g)
			b.WriteByte('\n')
		}
	}
	var prev rune = -1
	for _, r := range s {
		x := string(r)
		add(x + x + x)
		if prev >= 0 && prev != r {
			add(string(prev) + x + x)
		}
		prev = r
	}
	return b.String()
}

func TestShortGrams(t *testing.T) {
	for _, s := range []string{"", "a", "aa", "ab", "abab", "hello wörld", "你好你好世界", "a\xffb\xfe", "x\ny"} {
		if got, want := shortGrams(s), shortGramsByString(s); got != want {
			t.Errorf("shortGrams(%q) = %q, want %q", s, got, want)
		}
	}
	if got := shortGrams("aba"); got != "aaa\nbbb\nabb\nbaa\n" {
		t.Errorf("shortGrams(aba) = %q", got)
	}
}

func FuzzShortGrams(f *testing.F) {
	f.Add("hello wörld 你好")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := shortGrams(s), shortGramsByString(s); got != want {
			t.Fatalf("shortGrams(%q) = %q, want %q", s, got, want)
		}
	})
}

// BenchmarkShortGrams: a chat-sized message, once per stored text message.
func BenchmarkShortGrams(b *testing.B) {
	body := "see you at the station at 6, bring the tickets and some snacks!"
	b.Run("runes", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			shortGrams(body)
		}
	})
	b.Run("strings", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			shortGramsByString(body)
		}
	})
}
