package tui

import (
	"context"
	"errors"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

func TestCallTurnsErrorsIntoFailures(t *testing.T) {
	boom := errors.New("boom")
	fail := call("groups", func(context.Context) (int, error) { return 0, boom },
		func(int) tea.Msg { t.Fatal("done called after an error"); return nil })
	if got, want := fail(), (noticeMsg{text: "groups: boom", err: true}); got != want {
		t.Fatalf("failure %#v, want %#v", got, want)
	}
	ok := call("groups", func(context.Context) (int, error) { return 7, nil },
		func(n int) tea.Msg { return roomLeftMsg(n) })
	if got := ok(); got != roomLeftMsg(7) {
		t.Fatalf("success %#v", got)
	}
}

func TestExecDoneIsOptional(t *testing.T) {
	boom := errors.New("boom")
	if got, want := exec("room", func(context.Context) error { return boom }, nil)(), (noticeMsg{text: "room: boom", err: true}); got != want {
		t.Fatalf("failure %#v, want %#v", got, want)
	}
	if got := exec("room", func(context.Context) error { return nil }, nil)(); got != nil {
		t.Fatalf("success without done gave %#v", got)
	}
	if got := exec("room", func(context.Context) error { return nil }, func() tea.Msg { return loggedOutMsg{} })(); got != (loggedOutMsg{}) {
		t.Fatalf("success %#v", got)
	}
}

// TestRequestBoundsTheCall: the context a command's call gets ends after
// callTimeout, so a stuck server cannot hold a command forever.
func TestRequestBoundsTheCall(t *testing.T) {
	var deadline time.Time
	var ok bool
	start := time.Now()
	request(func(ctx context.Context) tea.Msg {
		deadline, ok = ctx.Deadline()
		return nil
	})()
	if !ok || deadline.Before(start.Add(callTimeout)) || deadline.After(time.Now().Add(callTimeout)) {
		t.Fatalf("deadline %v (set %v), want %v after the call", deadline, ok, callTimeout)
	}
}

func TestAlwaysDeliversItsMessage(t *testing.T) {
	if got := always(groupLeftMsg(3))(); got != groupLeftMsg(3) {
		t.Fatalf("always gave %#v", got)
	}
}
