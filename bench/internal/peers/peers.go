package peers

import (
	"sync"
	"sync/atomic"
)

// Set is a copy-on-write set of connections of type T. The zero value is
// ready to use; it is safe for concurrent use.
type Set[T comparable] struct {
	mu   sync.Mutex // serialises writers; readers never take it
	snap atomic.Pointer[[]T]
}

// Add inserts c. Adding a member twice keeps one copy.
func (s *Set[T]) Add(c T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	for _, x := range old {
		if x == c {
			return
		}
	}
	next := make([]T, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	s.snap.Store(&next)
}

// Remove deletes c if present.
func (s *Set[T]) Remove(c T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	for i, x := range old {
		if x == c {
			next := make([]T, 0, len(old)-1)
			next = append(next, old[:i]...)
			next = append(next, old[i+1:]...)
			s.snap.Store(&next)
			return
		}
	}
}

// Snapshot returns the current members. The slice is shared and must not
// be modified.
func (s *Set[T]) Snapshot() []T { return s.load() }

func (s *Set[T]) load() []T {
	if p := s.snap.Load(); p != nil {
		return *p
	}
	return nil
}
