package tlslayer

import (
	"sync"
	"time"
)

// sweepEvery is how often a Config looks for connections gone quiet: a
// connection lets its record ciphers go after one to two sweeps without a
// record (a variable so tests can shorten it).
var sweepEvery = time.Second

// sweeper finds a Config's quiet connections without a timer per
// connection. A connection that used its ciphers since the last sweep is
// on the list (Layer.arm, on its loop); every sweepEvery one goroutine
// takes the list and wakes each of them, and each Layer.Wake, on its loop,
// either goes back on the list (records went through meanwhile) or drops
// its ciphers and stays off it. Idle connections are on no list, and the
// goroutine exits when the list is empty.
type sweeper struct {
	every   time.Duration // sweepEvery when the Config was made
	mu      sync.Mutex
	list    []*Layer
	running bool
}

// add puts l on the list, starting the sweep goroutine if it is not running.
func (s *sweeper) add(l *Layer) {
	s.mu.Lock()
	s.list = append(s.list, l)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.run()
	}
}

func (s *sweeper) run() {
	t := time.NewTicker(s.every)
	defer t.Stop()
	var batch []*Layer
	for range t.C {
		s.mu.Lock()
		if len(s.list) == 0 {
			// Its array (8 bytes per connection that was busy) goes too.
			s.list, s.running = nil, false
			s.mu.Unlock()
			return
		}
		batch, s.list = s.list, batch[:0]
		s.mu.Unlock()
		for i, l := range batch {
			l.tr.io.Wake() // false once the conn is closed: it just leaves the list
			batch[i] = nil
		}
	}
}
