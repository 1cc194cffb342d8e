//go:build race

package fanout

// raceEnabled is whether the race detector is on.
const raceEnabled = true
