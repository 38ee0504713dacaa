package frame

import (
	"bytes"
	"errors"
	"testing"
)

func TestCompleteSplitsWholeFrames(t *testing.T) {
	var stream []byte
	stream = Append(stream, []byte("hello"))
	stream = Append(stream, nil)
	stream = Append(stream, bytes.Repeat([]byte{7}, 300))
	whole := len(stream)
	stream = Append(stream, []byte("partial"))
	for cut := 0; cut <= len(stream); cut++ {
		n, err := Complete(stream[:cut])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		var want int
		switch {
		case cut >= len(stream):
			want = len(stream)
		case cut >= whole:
			want = whole
		case cut >= 9+4+4+300:
			want = 9 + 4 + 4 + 300
		case cut >= 9+4:
			want = 9 + 4
		case cut >= 9:
			want = 9
		}
		if n != want {
			t.Fatalf("cut %d: Complete = %d, want %d", cut, n, want)
		}
	}
}

func TestCompleteRejectsHugeLength(t *testing.T) {
	b := Append(nil, []byte("ok"))
	b = append(b, 0xff, 0xff, 0xff, 0xff)
	n, err := Complete(b)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if n != 6 {
		t.Fatalf("n = %d, want 6 (the whole first frame)", n)
	}
}

func TestNext(t *testing.T) {
	b := Append(nil, []byte("abc"))
	if size, ok, err := Next(b[:3]); size != 0 || ok || err != nil {
		t.Fatalf("short header: %d %v %v", size, ok, err)
	}
	if size, ok, err := Next(b[:5]); size != 7 || ok || err != nil {
		t.Fatalf("partial: %d %v %v", size, ok, err)
	}
	if size, ok, err := Next(b); size != 7 || !ok || err != nil {
		t.Fatalf("whole: %d %v %v", size, ok, err)
	}
	if _, _, err := Next([]byte{0xff, 0, 0, 0}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge: %v", err)
	}
}

func FuzzComplete(f *testing.F) {
	f.Add(Append(Append(nil, []byte("x")), []byte("yz")))
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Complete(b)
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d out of range [0,%d]", n, len(b))
		}
		// The prefix must re-split to itself, frame by frame, via Next.
		off := 0
		for off < n {
			size, ok, nerr := Next(b[off:n])
			if nerr != nil || !ok {
				t.Fatalf("prefix frame at %d not whole: %v %v", off, ok, nerr)
			}
			off += size
		}
		if off != n {
			t.Fatalf("frames cover %d, Complete said %d", off, n)
		}
		if err == nil {
			if _, ok, _ := Next(b[n:]); ok {
				t.Fatalf("a whole frame was left after %d", n)
			}
		}
	})
}

func BenchmarkComplete(b *testing.B) {
	var stream []byte
	for i := 0; i < 64; i++ {
		stream = Append(stream, make([]byte, 60))
	}
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		if n, _ := Complete(stream); n != len(stream) {
			b.Fatal(n)
		}
	}
}
