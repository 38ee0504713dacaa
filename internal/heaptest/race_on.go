//go:build race

package heaptest

// raceEnabled reports whether the race detector is on: it changes what the
// heap holds, so the bounds are not checked under it.
const raceEnabled = true
