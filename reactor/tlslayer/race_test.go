//go:build race

package tlslayer

// raceEnabled: the tests run under the race detector.
const raceEnabled = true
