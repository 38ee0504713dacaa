//go:build !race

package heaptest

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
