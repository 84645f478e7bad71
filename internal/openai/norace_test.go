//go:build !race

package openai

// raceEnabled reports that the race detector is on; it empties
// sync.Pools at random, so allocation counts are not checked then.
const raceEnabled = false
