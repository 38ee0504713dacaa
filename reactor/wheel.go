package reactor

import "sync/atomic"

// wheel is a hashed timing wheel owned by one loop. Each tick visits one slot,
// so the cost per tick does not grow with the number of connections; an entry
// due more than one revolution ahead is skipped once per revolution.
type wheel struct {
	slots   [][]wheelEntry
	mask    uint64
	cur     uint64 // last processed tick
	n       int    // entries scheduled
	scratch []wheelEntry
}

// wheelEntry is either a connection idle check (c) or an AfterFunc timer (t).
type wheelEntry struct {
	at uint64 // tick when due
	c  *Conn
	t  *afterTimer
}

// afterTimer is the state shared between AfterFunc's stop function and the loop.
type afterTimer struct {
	f     func()
	state atomic.Int32 // timerPending, timerFired or timerStopped
	at    int64        // due time in nanoseconds since the loop's start (set before hand-off)
}

const (
	timerPending int32 = iota
	timerFired
	timerStopped
)

const wheelSlots = 512

func newWheel(cur uint64) wheel {
	return wheel{slots: make([][]wheelEntry, wheelSlots), mask: wheelSlots - 1, cur: cur}
}

// add schedules e and returns the tick it is due; entries due now or in
// the past run on the next tick.
func (w *wheel) add(e wheelEntry) uint64 {
	if e.at <= w.cur {
		e.at = w.cur + 1
	}
	s := &w.slots[e.at&w.mask]
	*s = append(*s, e)
	w.n++
	return e.at
}

// removeIdle drops c's idle entry due at the tick whose low 32 bits are
// at, if it is still in its slot, so that a closed connection (and what its
// handler hangs on it) is freed at once rather than when the entry would
// have come due, up to an idle timeout later. A slot holds about
// connections/512 entries, so the search is short. An entry not found
// (being fired, or an older stale one) is skipped when due instead.
func (w *wheel) removeIdle(c *Conn, at uint32) {
	s := &w.slots[uint64(at)&w.mask]
	list := *s
	for i, e := range list {
		if e.c == c && uint32(e.at) == at {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = wheelEntry{}
			*s = list[:last]
			w.n--
			return
		}
	}
}

// advance processes every tick up to now, calling fire for each due entry.
// fire may add entries.
func (w *wheel) advance(now uint64, fire func(wheelEntry)) {
	for w.cur < now {
		if w.n == 0 {
			w.cur = now
			return
		}
		w.cur++
		s := &w.slots[w.cur&w.mask]
		if len(*s) == 0 {
			continue
		}
		list := *s
		*s = w.scratch[:0]
		w.scratch = nil
		for _, e := range list {
			if e.at > w.cur {
				*s = append(*s, e)
				continue
			}
			w.n--
			fire(e)
		}
		clear(list)
		if w.scratch == nil {
			w.scratch = list[:0]
		}
	}
}
