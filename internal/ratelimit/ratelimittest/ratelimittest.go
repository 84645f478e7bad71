// Package ratelimittest is the conformance suite for ratelimit.Limiter:
// every implementation's tests call Exercise, so the in-process and Redis
// limiters are held to the same, exactly specified behaviour.
//
// The suite drives time with a fake Clock, so every expectation is exact
// (to the nanosecond for Rate limits) and no test sleeps.
package ratelimittest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
)

// NewLimiter returns a limiter with no counters that reads time from now.
// Each call must give a limiter whose counters are its own (for a shared
// store: a fresh key prefix), and it may register cleanup with t.
type NewLimiter func(t *testing.T, now func() time.Time) ratelimit.Limiter

// Clock is a fake clock for tests. It is safe for concurrent use.
type Clock struct {
	ns atomic.Int64
}

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock {
	c := new(Clock)
	c.ns.Store(start.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Exercise runs the conformance suite against limiters from newLimiter.
func Exercise(t *testing.T, newLimiter NewLimiter) {
	tests := []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"RateBurstThenSteady", testRateBurstThenSteady},
		{"RateNoDoubleBurst", testRateNoDoubleBurst},
		{"RateRetryAfterExact", testRateRetryAfterExact},
		{"RateStates", testRateStates},
		{"RateCostAboveLimit", testRateCostAboveLimit},
		{"TokensSettle", testTokensSettle},
		{"ConcurrencySlots", testConcurrencySlots},
		{"ConcurrencyTTL", testConcurrencyTTL},
		{"QuotaWindow", testQuotaWindow},
		{"QuotaSettle", testQuotaSettle},
		{"Balance", testBalance},
		{"MultiLimitAtomic", testMultiLimitAtomic},
		{"CountersIndependent", testCountersIndependent},
		{"ParallelNeverOverAdmits", testParallel},
		{"SettleIdempotent", testSettleIdempotent},
		{"Invalid", testInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &env{t: t, newLimiter: newLimiter}
			// A start with a sub-second part exercises the arithmetic on
			// (seconds, nanoseconds) pairs.
			e.start = time.Now().Truncate(time.Second).Add(123456789)
			e.clock = NewClock(e.start)
			e.l = newLimiter(t, e.clock.Now)
			tt.run(t, e)
		})
	}
}

type env struct {
	t          *testing.T
	newLimiter NewLimiter
	clock      *Clock
	start      time.Time
	l          ratelimit.Limiter
}

func (e *env) admit(limits ...ratelimit.Limit) ratelimit.Decision {
	e.t.Helper()
	d, err := e.l.Admit(context.Background(), limits)
	if err != nil {
		e.t.Fatalf("Admit: %v", err)
	}
	if len(d.States) != len(limits) {
		e.t.Fatalf("Admit: %d states for %d limits", len(d.States), len(limits))
	}
	if d.Allowed != (d.Denied == -1) || d.Allowed == d.Ticket.IsZero() {
		e.t.Fatalf("Admit: inconsistent decision %+v", d)
	}
	return d
}

// mustAllow admits and fails unless allowed.
func (e *env) mustAllow(limits ...ratelimit.Limit) ratelimit.Decision {
	e.t.Helper()
	d := e.admit(limits...)
	if !d.Allowed {
		e.t.Fatalf("at +%v: denied by limit %d (retry after %v, states %+v), want allowed", e.elapsed(), d.Denied, d.RetryAfter, d.States)
	}
	return d
}

// mustDeny admits and fails unless limit idx refused.
func (e *env) mustDeny(idx int, limits ...ratelimit.Limit) ratelimit.Decision {
	e.t.Helper()
	d := e.admit(limits...)
	if d.Allowed || d.Denied != idx {
		e.t.Fatalf("at +%v: allowed %v denied by %d (states %+v), want denied by %d", e.elapsed(), d.Allowed, d.Denied, d.States, idx)
	}
	return d
}

func (e *env) settle(d ratelimit.Decision, actual []int64) {
	e.t.Helper()
	if err := e.l.Settle(context.Background(), d.Ticket, actual); err != nil {
		e.t.Fatalf("Settle: %v", err)
	}
}

// remaining probes a counter with a zero-cost request and returns its state.
func (e *env) remaining(l ratelimit.Limit) ratelimit.State {
	e.t.Helper()
	l.Cost = 0
	d := e.admit(l)
	e.settle(d, nil)
	return d.States[0]
}

// elapsed is the fake time since the test began, for messages.
func (e *env) elapsed() time.Duration { return e.clock.Now().Sub(e.start) }

func wantState(t *testing.T, what string, got, want ratelimit.State) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: state %+v, want %+v", what, got, want)
	}
}

func rate(key string, limit int64, period time.Duration, cost int64) ratelimit.Limit {
	return ratelimit.Limit{Key: key, Kind: ratelimit.Rate, Limit: limit, Period: period, Cost: cost}
}

func quota(key string, limit int64, until time.Time, cost int64) ratelimit.Limit {
	return ratelimit.Limit{Key: key, Kind: ratelimit.Quota, Limit: limit, Until: until, Cost: cost}
}

func balance(key string, limit, cost int64) ratelimit.Limit {
	return ratelimit.Limit{Key: key, Kind: ratelimit.Balance, Limit: limit, Cost: cost}
}

func slots(key string, limit int64, ttl time.Duration) ratelimit.Limit {
	return ratelimit.Limit{Key: key, Kind: ratelimit.Concurrency, Limit: limit, TTL: ttl}
}
