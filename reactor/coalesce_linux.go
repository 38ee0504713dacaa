//go:build linux && !reactor_netfallback

package reactor

import "time"

// Coalescing (Options.CoalesceWindow). A loop that took at least
// coalesceMin commands at once within the last quietAfter windows is busy
// with fan-out: the next time it finds commands queued it opens a window
// instead and takes everything posted meanwhile when the window ends, so
// each connection gets one writev per window however many fan-outs
// reached it. Otherwise (request and reply traffic, a lone message after a
// quiet spell) the loop takes commands at once, as without a window. The
// window opens when the loop runs after the first post (woken by it, or
// already awake), so no command waits longer than the window plus the
// wake-up; while it holds commands the loop stays marked awake and sleeps
// until the window ends, so posts meanwhile write no eventfd. Shutdown's
// commands are urgent and end the window.

// coalesceMin is how many commands one drain must take to make the loop
// busy: a group message's fan-out posts one per receiver on the loop,
// while replies to requests arrive a few at a time.
const coalesceMin = 64

// quietAfter is how many windows without such a drain make a loop quiet
// again.
const quietAfter = 4

// holdCmds reports whether this pass leaves the command queue for the end
// of a coalescing window, opening one if the loop is busy.
func (l *loop) holdCmds() bool {
	if l.window <= 0 || l.stopping || l.urgent.Load() {
		return false
	}
	if l.drainAt == 0 {
		if l.since-l.taken >= quietAfter*l.window {
			return false
		}
		l.drainAt = l.since + l.window
	}
	return l.since < l.drainAt
}

// holdTimeout is the wait when commands are queued (called with mu held):
// 0 to take them now, or the time left in the window (or until the next
// tick if sooner). The loop stays marked awake either way, so posts until
// then write no eventfd: it is about to run a pass, or the deadline wakes
// it.
func (l *loop) holdTimeout(timeout time.Duration) time.Duration {
	if !l.holdCmds() {
		return 0
	}
	left := l.drainAt - time.Since(l.start)
	if left <= 0 {
		return 0
	}
	if timeout > 0 && timeout < left {
		return timeout
	}
	return left
}
