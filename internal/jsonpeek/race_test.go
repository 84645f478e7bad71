//go:build race

package jsonpeek

// raceEnabled reports that the race detector is on; it adds allocations,
// so allocation counts are not checked then.
const raceEnabled = true
