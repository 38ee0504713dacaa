package reactor

import "testing"

// TestWheelRemoveIdle: a removed idle entry never fires and stops counting;
// entries of other connections and timers in the same slot are untouched;
// removing an entry that is not there changes nothing.
func TestWheelRemoveIdle(t *testing.T) {
	w := newWheel(0)
	c1, c2 := &Conn{}, &Conn{}
	tm := &afterTimer{}
	at := w.add(wheelEntry{at: 5, c: c1})
	w.add(wheelEntry{at: 5, c: c2})
	w.add(wheelEntry{at: 5 + wheelSlots, c: c1}) // a revolution later: another entry
	w.add(wheelEntry{at: 5, t: tm})
	w.removeIdle(c1, uint32(at))
	if w.n != 3 {
		t.Fatalf("%d entries after removing one of 4", w.n)
	}
	w.removeIdle(&Conn{}, uint32(at)) // not in the wheel
	w.removeIdle(c2, uint32(at)+1)    // wrong tick
	if w.n != 3 {
		t.Fatalf("%d entries after removing absent ones, want 3", w.n)
	}
	var fired []wheelEntry
	w.advance(5, func(e wheelEntry) { fired = append(fired, e) })
	if len(fired) != 2 || fired[0].c == c1 || fired[1].c == c1 {
		t.Fatalf("fired %+v, want c2's entry and the timer", fired)
	}
	w.advance(5+wheelSlots, func(e wheelEntry) { fired = append(fired, e) })
	if len(fired) != 3 || fired[2].c != c1 || w.n != 0 {
		t.Fatalf("fired %d entries, %d left; want c1's later entry to fire", len(fired), w.n)
	}
}
