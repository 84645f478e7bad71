package breaker_test

import (
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/breaker"
)

func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := breaker.DefaultOptions()
	opts.Now = func() time.Time { return now }
	opts.OnChange = func(ch string, from, to breaker.State) { fmt.Printf("%s: %v -> %v\n", ch, from, to) }
	s := breaker.New(opts)

	// The router asks before each attempt and reports every outcome.
	for range 5 {
		if ok, probe, _ := s.Allow("east"); ok {
			s.Failure("east", probe) // e.g. a 502 from the upstream
		}
	}
	_, _, retryIn := s.Allow("east")
	fmt.Println("retry in", retryIn)

	now = now.Add(retryIn)
	ok, probe, _ := s.Allow("east")
	fmt.Println("probe:", ok, probe)
	s.Success("east", probe)
	// Output:
	// east: closed -> open
	// retry in 10s
	// east: open -> half_open
	// probe: true true
	// east: half_open -> closed
}
