package peers

import (
	"slices"
	"sync"
	"testing"
)

func TestAddRemoveSnapshot(t *testing.T) {
	var s Set[int]
	if got := s.Snapshot(); len(got) != 0 {
		t.Fatalf("empty set snapshot = %v", got)
	}
	s.Add(1)
	s.Add(2)
	s.Add(2)
	s.Add(3)
	before := s.Snapshot()
	s.Remove(2)
	s.Remove(42)
	if got := s.Snapshot(); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("after remove = %v, want [1 3]", got)
	}
	if !slices.Equal(before, []int{1, 2, 3}) {
		t.Fatalf("old snapshot changed to %v", before)
	}
}

func TestConcurrentUse(t *testing.T) {
	var s Set[int]
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s.Add(g*1000 + i)
				_ = len(s.Snapshot())
				if i%2 == 1 {
					s.Remove(g*1000 + i)
				}
			}
		}(g)
	}
	wg.Wait()
	if got := len(s.Snapshot()); got != 8*100 {
		t.Fatalf("len = %d, want 800", got)
	}
}
