package breaker

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestHalfOpenAdmitsExactlyOneProbe(t *testing.T) {
	tests := []struct {
		name     string
		callers  int
		releases bool // after the first round, release the probe and race again
	}{
		{"after cooldown", 100, false},
		{"after release", 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := New(Options{ConsecutiveFailures: 1, Cooldown: time.Second, Now: clk.Now})
			s.Failure("ch", false)
			clk.Add(time.Second)
			rounds := 1
			if tt.releases {
				rounds = 2
			}
			for round := range rounds {
				if round > 0 {
					s.Release("ch", true)
				}
				var probes, admitted atomic.Int64
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range tt.callers {
					wg.Go(func() {
						<-start
						ok, probe, _ := s.Allow("ch")
						if ok {
							admitted.Add(1)
						}
						if probe {
							probes.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if probes.Load() != 1 || admitted.Load() != 1 {
					t.Errorf("round %d: %d callers admitted, %d as probe; want exactly 1 probe", round, admitted.Load(), probes.Load())
				}
			}
		})
	}
}

// TestConcurrentTraffic runs mixed traffic on several channels from many
// goroutines (meant for -race) and checks that every reported transition
// is one the breaker can make.
func TestConcurrentTraffic(t *testing.T) {
	valid := map[[2]State]bool{
		{Closed, Open}: true, {Open, HalfOpen}: true, {HalfOpen, Closed}: true, {HalfOpen, Open}: true,
	}
	clk := newClock()
	var bad atomic.Int64
	var changes atomic.Int64
	opts := DefaultOptions()
	opts.Cooldown = 50 * time.Millisecond
	opts.MaxCooldown = 200 * time.Millisecond
	opts.Now = clk.Now
	opts.Channels = []string{"a", "b"}
	opts.OnChange = func(_ string, from, to State) {
		changes.Add(1)
		if !valid[[2]State{from, to}] {
			bad.Add(1)
		}
	}
	s := New(opts)
	const workers, calls = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range calls {
				name := fmt.Sprintf("%c", 'a'+rng.IntN(4)) // c and d are added lazily
				if w == 0 && i%50 == 0 {
					clk.Add(10 * time.Millisecond)
				}
				if w == 1 && i%500 == 0 {
					s.CoolDown(name, 30*time.Millisecond)
					_ = s.Snapshot()
				}
				ok, probe, _ := s.Allow(name)
				if !ok {
					continue
				}
				switch r := rng.IntN(10); {
				case r < 5:
					s.Failure(name, probe)
				case r < 9:
					s.Success(name, probe)
				default:
					s.Release(name, probe)
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d impossible transitions reported", bad.Load())
	}
	if changes.Load() == 0 {
		t.Error("no transitions at all; the test exercised nothing")
	}
	snaps := s.Snapshot()
	if len(snaps) != 4 {
		t.Errorf("Snapshot has %d channels, want 4", len(snaps))
	}
	for _, sn := range snaps {
		if sn.State < Closed || sn.State > HalfOpen || sn.Failures > sn.Total {
			t.Errorf("inconsistent snapshot %+v", sn)
		}
	}
}

func BenchmarkAllowSuccessClosed(b *testing.B) {
	s := New(DefaultOptions())
	s.Success("ch", false)
	b.ReportAllocs()
	for b.Loop() {
		ok, probe, _ := s.Allow("ch")
		if !ok {
			b.Fatal("closed channel rejected a request")
		}
		s.Success("ch", probe)
	}
}

func BenchmarkAllowSuccessClosedParallel(b *testing.B) {
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	opts := DefaultOptions()
	opts.Channels = names
	s := New(opts)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		name := names[int(next.Add(1))%len(names)]
		for pb.Next() {
			_, probe, _ := s.Allow(name)
			s.Success(name, probe)
		}
	})
}
