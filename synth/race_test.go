//go:build race

package synth

// raceEnabled: the race detector slows rendering ~10x, so the golden test
// checks a subset of the photos.
const raceEnabled = true
