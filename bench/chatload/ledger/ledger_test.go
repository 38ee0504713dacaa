package ledger

import (
	"reflect"
	"sync"
	"testing"
)

func TestExactlyOnce(t *testing.T) {
	l := New(3)
	to := []int32{1, 2}
	for i := 0; i < 100; i++ {
		n := l.Next()
		// Deliveries may arrive before the sender sees its ack.
		l.Delivered(1, n)
		l.Acked(n, to)
		l.Delivered(2, n)
	}
	if got := l.Outstanding(); got != 0 {
		t.Fatalf("outstanding = %d, want 0", got)
	}
	r := l.Result()
	if !r.OK() || r.Acked != 100 || r.Expected != 200 || r.Delivered != 200 {
		t.Fatalf("result = %+v", r)
	}
}

func TestLostDuplicatedUnackedUnexpected(t *testing.T) {
	l := New(4)
	a, b, c, d := l.Next(), l.Next(), l.Next(), l.Next()
	l.Acked(a, []int32{0, 1})
	l.Delivered(0, a) // 1 lost at receiver 1
	l.Acked(b, []int32{2})
	l.Delivered(2, b)
	if l.Delivered(2, b) { // duplicate
		t.Fatal("second delivery reported as first")
	}
	l.Failed(c)
	l.Delivered(3, c) // stored although the send failed
	l.Acked(d, []int32{0})
	l.Delivered(0, d)
	l.Delivered(3, d) // receiver 3 was not owed d
	r := l.Result()
	want := Result{Acked: 3, Failed: 1, Expected: 4, Delivered: 3, Lost: 1, Duplicated: 1, Unacked: 1, Unexpected: 1}
	if len(r.FirstLost) != 1 {
		t.Fatalf("first lost = %v, want one entry", r.FirstLost)
	}
	r.FirstLost = nil
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("result = %+v, want %+v", r, want)
	}
	if r.OK() {
		t.Fatal("OK with losses")
	}
}

func TestConcurrentReceivers(t *testing.T) {
	const receivers, msgs = 8, 2000
	l := New(receivers)
	all := make([]int32, receivers)
	for i := range all {
		all[i] = int32(i)
	}
	var wg sync.WaitGroup
	for i := 0; i < msgs; i++ {
		l.Acked(l.Next(), all)
	}
	for r := 0; r < receivers; r++ {
		wg.Add(1)
		go func(r int32) {
			defer wg.Done()
			for n := uint64(0); n < msgs; n++ {
				l.Delivered(r, n)
			}
		}(int32(r))
	}
	wg.Wait()
	if res := l.Result(); !res.OK() || res.Delivered != receivers*msgs {
		t.Fatalf("result = %+v", res)
	}
}

func TestBitsetEach(t *testing.T) {
	var b bitset
	in := []uint64{0, 1, 63, 64, 200, 1000}
	for _, n := range in {
		b.set(n)
	}
	var out []uint64
	b.each(func(n uint64) { out = append(out, n) })
	if len(out) != len(in) {
		t.Fatalf("each = %v", out)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("each = %v, want %v", out, in)
		}
	}
}

func TestEachAcked(t *testing.T) {
	l := New(2)
	a, b := l.Next(), l.Next()
	l.Acked(a, []int32{1})
	l.Failed(b)
	seen := map[uint64]int32{}
	l.EachAcked(func(n uint64, to []int32) { seen[n] = to[0] })
	if len(seen) != 1 || seen[a] != 1 {
		t.Fatalf("EachAcked saw %v", seen)
	}
}

func BenchmarkDelivered(b *testing.B) {
	l := New(64)
	to := []int32{1}
	for i := 0; i < b.N; i++ {
		l.Acked(l.Next(), to)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var n uint64
		for pb.Next() {
			l.Delivered(int32(n%64), n)
			n++
		}
	})
}
