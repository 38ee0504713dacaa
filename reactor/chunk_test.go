package reactor

import "testing"

func TestChunkClasses(t *testing.T) {
	cases := []struct{ n, class int }{
		{1, 0}, {1024, 0}, {1025, 1}, {4096, 1}, {4097, 2}, {16 << 10, 2}, {16<<10 + 1, 3}, {maxChunk, 3},
	}
	for _, c := range cases {
		if k := chunkClass(c.n); k != c.class {
			t.Errorf("chunkClass(%d) = %d, want %d", c.n, k, c.class)
		}
		if k := chunkClassOf(chunkSize(c.class)); k != c.class {
			t.Errorf("chunkClassOf(%d) = %d, want %d", chunkSize(c.class), k, c.class)
		}
	}
	if chunkClassOf(3000) != -1 || maxChunk != 64<<10 {
		t.Fatal("odd capacity taken for a chunk, or maxChunk is not 64 KiB")
	}
}

// TestChunkPoolBoundedAndSpills: a loop keeps at most chunkPoolBytes per
// class; the rest spills to the shared pool, and what comes back out of
// either has the class capacity and length 0. Foreign buffers are ignored.
func TestChunkPoolBoundedAndSpills(t *testing.T) {
	var p chunkPool
	for k := range numChunkClasses {
		keep := chunkPoolBytes / chunkSize(k)
		var got [][]byte
		for range keep + 10 {
			b := p.get(k)
			if len(b) != 0 || cap(b) != chunkSize(k) {
				t.Fatalf("class %d: got len %d cap %d", k, len(b), cap(b))
			}
			got = append(got, append(b, 1, 2, 3))
		}
		for _, b := range got {
			p.put(b)
		}
		if n := len(p.free[k]); n != keep {
			t.Fatalf("class %d: %d chunks kept, want %d", k, n, keep)
		}
		for range keep + 10 { // the spilled ones come back too (or are new)
			if b := p.get(k); len(b) != 0 || cap(b) != chunkSize(k) {
				t.Fatalf("class %d: reused chunk has len %d cap %d", k, len(b), cap(b))
			}
		}
	}
	p.put(make([]byte, 10, 3000))
	if p.held() != 0 {
		t.Fatalf("pool holds %d buffers after taking everything back out and a foreign put", p.held())
	}
}
