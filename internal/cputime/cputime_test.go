package cputime

import (
	"runtime"
	"testing"
)

func TestProcessAdvancesWithWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("not measured on this platform")
	}
	before := Process()
	x := 0
	for i := range 50_000_000 {
		x ^= i * 7
	}
	after := Process()
	if before <= 0 || after <= before {
		t.Fatalf("CPU time %v then %v (work %d), want a positive, growing value", before, after, x)
	}
}
