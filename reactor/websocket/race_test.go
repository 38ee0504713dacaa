//go:build race

package websocket

// raceEnabled scales the large category 9 cases down under the race
// detector, which makes byte loops about 10x slower.
const raceEnabled = true
