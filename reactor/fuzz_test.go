package reactor

import (
	"bytes"
	"testing"
)

// FuzzOutQueue drives push, pushChunk and consume sequences against a
// reference byte slice. Written chunks go back to a chunk pool and are reused
// (overwritten) by later pushChunks, so a chunk handed back while still queued
// shows up as corrupted content; every chunk must come back exactly once.
func FuzzOutQueue(f *testing.F) {
	f.Add([]byte{3, 10, 200, 5, 1, 0, 255, 7})
	f.Add(bytes.Repeat([]byte{1, 2}, 600))
	f.Add([]byte{2, 6, 10, 1, 3, 14, 255, 255, 2, 1, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var q outQueue
		var p chunkPool
		var done [][]byte
		var ref []byte
		out := map[*byte]bool{} // chunks queued and not yet handed back
		handBack := func() {
			for _, b := range done {
				if !out[&b[:1][0]] {
					t.Fatal("chunk handed back twice or never queued")
				}
				delete(out, &b[:1][0])
				p.put(b)
			}
			done = done[:0]
		}
		pos := 0
		for i, op := range ops {
			switch op & 3 {
			case 0:
				b := pattern(pos+i*7, int(op>>2))
				q.push(b)
				ref = append(ref, b...)
			case 2:
				ch := p.get(int(op>>2) % numChunkClasses)
				n := 1 + int(op>>4)*len(ch[:cap(ch)])/16
				ch = append(ch, pattern(pos+i*13, min(n, cap(ch)))...)
				ref = append(ref, ch...)
				if op&32 != 0 && q.appendTail(ch) {
					p.put(ch) // copied into the tail: reused at once
					break
				}
				out[&ch[:1][0]] = true
				q.pushChunk(ch)
			default:
				n := min(int(op>>2)*97, len(ref))
				var got []byte
				for _, b := range q.peek(nil, 1<<30) {
					got = append(got, b...)
				}
				if !bytes.Equal(got, ref) {
					t.Fatalf("queue content differs from reference")
				}
				q.consume(n, &done)
				ref = ref[n:]
				handBack()
			}
			if q.size() != len(ref) || q.empty() != (len(ref) == 0) {
				t.Fatalf("size %d empty %v, reference %d", q.size(), q.empty(), len(ref))
			}
		}
		var got []byte
		for _, b := range q.peek(nil, iovMax) {
			got = append(got, b...)
		}
		if !bytes.HasPrefix(ref, got) || (q.buffers() <= iovMax && len(got) != len(ref)) {
			t.Fatalf("final peek differs from reference")
		}
		q.release(&done)
		handBack()
		if !q.empty() || len(out) != 0 {
			t.Fatalf("release left data or %d chunks", len(out))
		}
	})
}

// FuzzInbound appends chunks to a leftover buffer and consumes random prefixes.
func FuzzInbound(f *testing.F) {
	f.Add([]byte{100, 3, 250, 250, 9, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var p bufPool
		var cur, ref []byte
		for i, op := range ops {
			if op&1 == 0 {
				d := pattern(i*31, int(op)*20)
				cur = inAppend(&p, cur, d)
				ref = append(ref, d...)
			} else {
				k := min(int(op>>1)*17, len(ref))
				cur = inConsume(&p, cur, k)
				ref = ref[k:]
				if len(ref) == 0 && cur != nil {
					t.Fatal("empty leftover still holds a buffer")
				}
			}
			if !bytes.Equal(cur, ref) {
				t.Fatalf("leftover differs from reference after op %d", i)
			}
		}
		for c := range p.free {
			for _, b := range p.free[c] {
				if cap(b) != 1<<(c+minClassShift) {
					t.Fatal("pooled buffer in the wrong class")
				}
			}
		}
	})
}

// FuzzWheel checks every scheduled entry fires exactly once, not early.
func FuzzWheel(f *testing.F) {
	f.Add([]byte{1, 5, 200, 0, 9, 77, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		w := newWheel(0)
		fired := map[*afterTimer]uint64{}
		want := map[*afterTimer]uint64{}
		now := uint64(0)
		for _, op := range ops {
			if op&1 == 0 {
				tm := &afterTimer{}
				at := now + uint64(op)*5
				want[tm] = max(at, now+1)
				w.add(wheelEntry{at: at, t: tm})
			} else {
				now += uint64(op >> 2)
				w.advance(now, func(e wheelEntry) {
					if _, dup := fired[e.t]; dup {
						t.Fatal("fired twice")
					}
					fired[e.t] = w.cur
				})
			}
		}
		now += 2000
		w.advance(now, func(e wheelEntry) { fired[e.t] = w.cur })
		if len(fired) != len(want) || w.n != 0 {
			t.Fatalf("fired %d of %d, %d left", len(fired), len(want), w.n)
		}
		for tm, at := range fired {
			if at < want[tm] {
				t.Fatalf("fired at %d before due %d", at, want[tm])
			}
		}
	})
}
