package chatload

import (
	"testing"
	"time"
)

func TestBodyRoundTrip(t *testing.T) {
	now := time.Now()
	for _, size := range []int{0, 10, 64, 1000} {
		b := makeBody(12345, now, size)
		if size > 40 && len(b) != size {
			t.Fatalf("size %d: got %d bytes", size, len(b))
		}
		n, sent, err := parseBody(b)
		if err != nil || n != 12345 || !sent.Equal(time.Unix(0, now.UnixNano())) {
			t.Fatalf("size %d: parse(%q) = %d, %v, %v", size, b, n, sent, err)
		}
	}
	for _, bad := range []string{"", "hello", "cb ", "cb 1", "cb x 5", "cb 1 -5", "cb 1 y"} {
		if _, _, err := parseBody(bad); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestMediaRoundTrip(t *testing.T) {
	now := time.Now()
	p := makeMedia(7, now, 100)
	n, sent, err := parseMedia(p)
	if err != nil || n != 7 || sent.UnixNano() != now.UnixNano() || len(p) != 100 {
		t.Fatalf("parseMedia = %d, %v, %v (len %d)", n, sent, err, len(p))
	}
	if _, _, err := parseMedia(p[:10]); err == nil {
		t.Fatal("short media accepted")
	}
}

func FuzzParseBody(f *testing.F) {
	f.Add(makeBody(1, time.Unix(0, 1), 30))
	f.Add("cb 18446744073709551615 9223372036854775807")
	f.Add("cb 1 2 3")
	f.Fuzz(func(t *testing.T, s string) {
		n, sent, err := parseBody(s)
		if err != nil {
			return
		}
		// Whatever parses must re-encode to the same header.
		again, sent2, err := parseBody(makeBody(n, sent, 0))
		if err != nil || again != n || !sent.Equal(sent2) {
			t.Fatalf("re-encode of %q: %d %v %v", s, again, sent2, err)
		}
	})
}

func FuzzParseMedia(f *testing.F) {
	f.Add(makeMedia(3, time.Unix(0, 99), 20))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, sent, err := parseMedia(p)
		if err != nil {
			return
		}
		if n2, s2, err := parseMedia(makeMedia(n, sent, 0)); err != nil || n2 != n || !s2.Equal(sent) {
			t.Fatalf("re-encode: %d %v %v", n2, s2, err)
		}
	})
}
