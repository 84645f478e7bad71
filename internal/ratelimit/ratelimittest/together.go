package ratelimittest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
)

func testMultiLimitAtomic(t *testing.T, e *env) {
	end := e.clock.Now().Add(time.Hour)
	limits := []ratelimit.Limit{
		rate("key:k1:rpm", 10, time.Minute, 1),
		slots("key:k1:concurrent", 5, 0),
		quota("key:k1:daily", 100, end, 1),
		balance("owner:o1:balance", 1000, 1),
		quota("group:g1:daily", 1, end, 1),
	}
	d := e.mustAllow(limits...)
	remainings := func(d ratelimit.Decision) []int64 {
		var r []int64
		for _, s := range d.States {
			r = append(r, s.Remaining)
		}
		return r
	}
	if got, want := remainings(d), []int64{9, 4, 99, 999, 0}; !slices.Equal(got, want) {
		t.Fatalf("first: remaining %v, want %v", got, want)
	}
	d = e.mustDeny(4, limits...)
	if got, want := remainings(d), []int64{9, 4, 99, 999, 0}; !slices.Equal(got, want) {
		t.Fatalf("refused by the last: remaining %v, want %v (nothing taken)", got, want)
	}
	d = e.mustAllow(limits[:4]...)
	if got, want := remainings(d), []int64{8, 3, 98, 998}; !slices.Equal(got, want) {
		t.Fatalf("without the last: remaining %v, want %v", got, want)
	}
	// Several refuse: Denied names the first.
	tight := slices.Clone(limits[:4])
	tight[1].Limit, tight[3].Limit = 2, 2
	d = e.mustDeny(1, tight...)
	if got, want := remainings(d), []int64{8, 0, 98, 0}; !slices.Equal(got, want) {
		t.Fatalf("two refuse: remaining %v, want %v", got, want)
	}
}

func testCountersIndependent(t *testing.T, e *env) {
	end := e.clock.Now().Add(time.Hour)
	e.mustAllow(quota("shared", 1, end, 1))
	e.mustAllow(balance("shared", 1, 1))
	e.mustAllow(rate("shared", 1, time.Minute, 1))
	e.mustAllow(slots("shared", 1, 0))
	e.mustAllow(quota("other", 1, end, 1))
	e.mustDeny(0, quota("shared", 1, end, 1))
}

func testParallel(t *testing.T, e *env) {
	end := e.clock.Now().Add(time.Hour)
	cases := []struct {
		name   string
		limits []ratelimit.Limit
		want   int64
	}{
		{"quota", []ratelimit.Limit{quota("key:k1:daily", 50, end, 1)}, 50},
		{"rate", []ratelimit.Limit{rate("key:k1:rpm", 30, time.Minute, 1)}, 30},
		{"concurrency", []ratelimit.Limit{slots("key:k1:concurrent", 10, 0)}, 10},
		{"balance", []ratelimit.Limit{balance("owner:o1:balance", 500, 7)}, 71},
		{"multi", []ratelimit.Limit{rate("key:k2:rpm", 40, time.Minute, 1), quota("key:k2:daily", 50, end, 1), slots("key:k2:concurrent", 60, 0)}, 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					d, err := e.l.Admit(context.Background(), tc.limits)
					if err != nil {
						t.Errorf("Admit: %v", err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
				})
			}
			wg.Wait()
			if got := admitted.Load(); got != tc.want {
				t.Fatalf("100 parallel requests: %d admitted, want %d", got, tc.want)
			}
		})
	}
	t.Run("settled spend adds up", func(t *testing.T) {
		b := balance("owner:o2:balance", 500, 10)
		var wg sync.WaitGroup
		var admitted atomic.Int64
		for range 100 {
			wg.Go(func() {
				d, err := e.l.Admit(context.Background(), []ratelimit.Limit{b})
				if err != nil || !d.Allowed {
					return
				}
				admitted.Add(1)
				if err := e.l.Settle(context.Background(), d.Ticket, []int64{7}); err != nil {
					t.Errorf("Settle: %v", err)
				}
			})
		}
		wg.Wait()
		// Estimates above the actual use never let spend pass the balance.
		n := admitted.Load()
		if n < 50 || 7*n > 500 {
			t.Fatalf("%d admitted at estimate 10, actual 7, on a balance of 500", n)
		}
		wantState(t, "spend", e.remaining(b), ratelimit.State{Limit: 500, Remaining: 500 - 7*n})
	})
}

func testSettleIdempotent(t *testing.T, e *env) {
	b := balance("owner:o1:balance", 100, 40)
	d := e.mustAllow(b)
	e.settle(d, nil)
	e.settle(d, nil)
	e.settle(d, []int64{10})
	wantState(t, "settled thrice", e.remaining(b), ratelimit.State{Limit: 100, Remaining: 100})

	d = e.mustAllow(b)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := e.l.Settle(context.Background(), d.Ticket, []int64{30}); err != nil {
				t.Errorf("Settle: %v", err)
			}
		})
	}
	wg.Wait()
	wantState(t, "settled in parallel", e.remaining(b), ratelimit.State{Limit: 100, Remaining: 70})
	// The zero ticket (a denied decision's) settles nothing.
	e.settle(ratelimit.Decision{}, nil)
}

func testInvalid(t *testing.T, e *env) {
	end := e.clock.Now().Add(time.Hour)
	ok := quota("key:k1:daily", 10, end, 1)
	cases := []struct {
		name   string
		limits []ratelimit.Limit
	}{
		{"empty key", []ratelimit.Limit{quota("", 10, end, 1)}},
		{"negative cost", []ratelimit.Limit{quota("k", 10, end, -1)}},
		{"negative limit", []ratelimit.Limit{balance("k", -1, 0)}},
		{"huge cost", []ratelimit.Limit{balance("k", 10, ratelimit.MaxUnits+1)}},
		{"unknown kind", []ratelimit.Limit{{Key: "k", Kind: ratelimit.Kind(9), Limit: 1}}},
		{"rate without period", []ratelimit.Limit{rate("k", 10, 0, 1)}},
		{"rate of zero", []ratelimit.Limit{rate("k", 0, time.Minute, 0)}},
		{"rate finer than a nanosecond", []ratelimit.Limit{rate("k", 2000, time.Microsecond, 1)}},
		{"quota without end", []ratelimit.Limit{quota("k", 10, time.Time{}, 1)}},
		{"quota window over", []ratelimit.Limit{ok, quota("key:k2:daily", 10, e.clock.Now().Add(-time.Second), 1)}},
		{"same counter twice", []ratelimit.Limit{ok, ok}},
	}
	for _, tc := range cases {
		d, err := e.l.Admit(context.Background(), tc.limits)
		if !errors.Is(err, ratelimit.ErrInvalidLimit) || d.Allowed {
			t.Errorf("%s: allowed %v, error %v; want ErrInvalidLimit", tc.name, d.Allowed, err)
		}
	}
	// Nothing of a rejected call was taken.
	wantState(t, "after invalid calls", e.remaining(ok), ratelimit.State{Limit: 10, Remaining: 10, Reset: time.Hour})

	d := e.mustAllow(ok, balance("owner:o1:balance", 10, 1))
	for name, actual := range map[string][]int64{"short": {1}, "long": {1, 1, 1}, "negative": {1, -1}} {
		if err := e.l.Settle(context.Background(), d.Ticket, actual); !errors.Is(err, ratelimit.ErrInvalidSettle) {
			t.Errorf("settle %s: error %v, want ErrInvalidSettle", name, err)
		}
	}
	other := e.newLimiter(t, e.clock.Now)
	if err := other.Settle(context.Background(), d.Ticket, nil); !errors.Is(err, ratelimit.ErrInvalidSettle) {
		t.Errorf("settle on another limiter: error %v, want ErrInvalidSettle", err)
	}
	e.settle(d, nil) // still open after the rejected attempts
	wantState(t, "released", e.remaining(ok), ratelimit.State{Limit: 10, Remaining: 10, Reset: time.Hour})
}
