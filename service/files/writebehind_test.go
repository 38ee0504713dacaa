package files

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteBehindWindows: a write-behind part file resumed at an offset
// hands every full window to writeback once, in order, and the bytes land
// where they belong (through the real sync_file_range calls, then again
// with the calls recorded).
func TestWriteBehindWindows(t *testing.T) {
	const held = 3 << 20
	want := bytes.Repeat([]byte("0123456789abcdef"), (held+4*writeBehindWindow)/16)
	for _, record := range []bool{false, true} {
		t.Run(fmt.Sprintf("record=%v", record), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "part")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(want[:held]); err != nil {
				t.Fatal(err)
			}
			w := newWriteBehind(f, held)
			var calls []string
			if record {
				w.begin = func(_ *os.File, off, n int64) { calls = append(calls, fmt.Sprintf("start %d+%d", off, n)) }
			}
			for p := want[held:]; len(p) > 0; {
				k := min(len(p), 300_000)
				if _, err := w.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				w.settle()
				p = p[k:]
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("file differs from what was written (%v)", err)
			}
			if !record {
				return
			}
			// 300,000-byte writes: a window closes at the first write
			// that reaches 8 MiB past the last one.
			step := int64((writeBehindWindow + 299_999) / 300_000 * 300_000)
			var wantCalls []string
			for off := int64(held); off+step <= int64(len(want)); off += step {
				wantCalls = append(wantCalls, fmt.Sprintf("start %d+%d", off, step))
			}
			if fmt.Sprint(calls) != fmt.Sprint(wantCalls) {
				t.Fatalf("calls %v, want %v", calls, wantCalls)
			}
		})
	}
}
