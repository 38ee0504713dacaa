//go:build race

package tlslayer

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = true
