package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// OnBatch hears of every committed append exactly once: the sizes it is
// told add up to the appends made, and every batch reports a duration.
func TestOnBatchCountsEveryAppend(t *testing.T) {
	cfg := sqliteConfig(t)
	var mu sync.Mutex
	var batches, total int
	var zeroDur bool
	cfg.OnBatch = func(size int, d time.Duration) {
		mu.Lock()
		batches++
		total += size
		if d <= 0 {
			zeroDur = true
		}
		mu.Unlock()
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _, conv := friendsConv(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const senders, each = 8, 10
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for range each {
				if _, _, err := s.AppendMessage(ctx, NewMessage{Conv: conv, From: a, Type: "text", Body: "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if total != senders*each {
		t.Fatalf("OnBatch sizes add up to %d, want %d", total, senders*each)
	}
	if batches < 1 || batches > total {
		t.Fatalf("%d batches for %d appends", batches, total)
	}
	if zeroDur {
		t.Fatal("a batch reported a zero duration")
	}
}
