package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestFailuresBlockAfterLimit(t *testing.T) {
	f := NewFailures(5, time.Minute, 0)
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		if f.Fail("alice", t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("blocked after %d failures", i+1)
		}
		if _, b := f.Blocked("alice", t0.Add(time.Duration(i)*time.Second)); b {
			t.Fatalf("blocked after %d failures", i+1)
		}
	}
	trip := t0.Add(10 * time.Second)
	if !f.Fail("alice", trip) {
		t.Fatal("fifth failure did not trip")
	}
	d, b := f.Blocked("alice", trip.Add(time.Second))
	if !b || d != 59*time.Second {
		t.Fatalf("blocked=%v for %v, want 59s", b, d)
	}
	if _, b := f.Blocked("bob", trip); b {
		t.Fatal("other key blocked")
	}
	if _, b := f.Blocked("alice", trip.Add(time.Minute)); b {
		t.Fatal("still blocked a minute after the tripping failure")
	}
	// Spent failures do not count again.
	if f.Fail("alice", trip.Add(time.Minute)) {
		t.Fatal("one failure after the block tripped again")
	}
}

func TestFailuresSlidingWindow(t *testing.T) {
	f := NewFailures(3, time.Minute, 0)
	t0 := time.Unix(1000, 0)
	f.Fail("k", t0)
	f.Fail("k", t0.Add(30*time.Second))
	// The first failure has left the window: two in window after this one.
	if f.Fail("k", t0.Add(61*time.Second)) {
		t.Fatal("tripped although the first failure left the window")
	}
	if !f.Fail("k", t0.Add(62*time.Second)) {
		t.Fatal("three failures in a minute did not trip")
	}
}

func TestFailuresBounded(t *testing.T) {
	f := NewFailures(5, time.Minute, 1000)
	t0 := time.Unix(1000, 0)
	for i := range 10_000 {
		f.Fail("user"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := f.Len(); n > 1000 {
		t.Fatalf("tracking %d keys, cap 1000", n)
	}
	// Stale entries go on the next sweep.
	for i := range 1024 {
		f.Fail("late"+strconv.Itoa(i), t0.Add(time.Hour))
	}
	if n := f.Len(); n > 1024 {
		t.Fatalf("stale keys kept: %d", n)
	}
}
