//go:build race

package ewsp

// raceEnabled is true when the tests run under the race detector, which
// slows the exhaustive mutation sweep about tenfold.
const raceEnabled = true
