//go:build !race

package ewsp

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = false
