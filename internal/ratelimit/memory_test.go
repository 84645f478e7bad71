package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/ratelimit/ratelimittest"
)

func TestMemory(t *testing.T) {
	ratelimittest.Exercise(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return ratelimit.NewMemory(ratelimit.MemoryOptions{Now: now})
	})
}

// TestMemoryDropsExpiredCounters checks the lazy sweep: idle counters go
// away, balances stay.
func TestMemoryDropsExpiredCounters(t *testing.T) {
	clock := ratelimittest.NewClock(time.Unix(1_700_000_000, 0))
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock.Now})
	ctx := context.Background()
	for i := range 1000 {
		key := "key:" + string(rune('a'+i%26)) + time.Duration(i).String()
		limits := []ratelimit.Limit{
			{Key: key, Kind: ratelimit.Rate, Limit: 10, Period: time.Second, Cost: 1},
			{Key: key, Kind: ratelimit.Quota, Limit: 10, Until: clock.Now().Add(time.Second), Cost: 1},
			{Key: key, Kind: ratelimit.Concurrency, Limit: 10, TTL: time.Second},
		}
		if _, err := m.Admit(ctx, limits); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Admit(ctx, []ratelimit.Limit{{Key: "owner", Kind: ratelimit.Balance, Limit: 10, Cost: 3}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	probe := []ratelimit.Limit{{Key: "probe", Kind: ratelimit.Rate, Limit: 1, Period: time.Second}}
	for range 10000 {
		if _, err := m.Admit(ctx, probe); err != nil {
			t.Fatal(err)
		}
	}
	if n := ratelimit.MemoryCounters(m); n != 1 {
		t.Fatalf("%d counters left after everything expired, want the balance only", n)
	}
	d, err := m.Admit(ctx, []ratelimit.Limit{{Key: "owner", Kind: ratelimit.Balance, Limit: 10}})
	if err != nil || d.States[0].Remaining != 7 {
		t.Fatalf("balance after the sweep: %+v, %v; want 7 remaining", d.States, err)
	}
}

// benchLimits is a typical request: key RPM and TPM, a daily quota and a
// prepaid balance, sized so the benchmark never runs out on benchClock.
func benchLimits() []ratelimit.Limit {
	return []ratelimit.Limit{
		{Key: "key:key_ab12:rpm", Kind: ratelimit.Rate, Limit: 1_000_000_000, Period: time.Minute, Cost: 20},
		{Key: "key:key_ab12:tpm", Kind: ratelimit.Rate, Limit: 1_000_000_000, Period: time.Minute, Cost: 20},
		{Key: "key:key_ab12:daily", Kind: ratelimit.Quota, Limit: ratelimit.MaxUnits, Until: time.Now().Add(24 * time.Hour), Cost: 1},
		{Key: "owner:o1:balance", Kind: ratelimit.Balance, Limit: ratelimit.MaxUnits, Cost: 1},
	}
}

// benchClock advances 1µs per reading, so Rate counters (60ns per unit,
// 20 units per request) keep a growing debt instead of idling out and
// being swept and recreated on every request.
func benchClock() func() time.Time {
	c := ratelimittest.NewClock(time.Now())
	return func() time.Time {
		c.Advance(time.Microsecond)
		return c.Now()
	}
}

func BenchmarkMemoryAdmit(b *testing.B) {
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: benchClock()})
	limits := benchLimits()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := m.Admit(ctx, limits)
		if err != nil || !d.Allowed {
			b.Fatalf("denied: %+v, %v", d, err)
		}
	}
}

func BenchmarkMemoryAdmitSettle(b *testing.B) {
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: benchClock()})
	limits := benchLimits()
	limits[3] = ratelimit.Limit{Key: "key:key_ab12:concurrent", Kind: ratelimit.Concurrency, Limit: 1000}
	actual := []int64{20, 20, 1, 0}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := m.Admit(ctx, limits)
		if err != nil || !d.Allowed {
			b.Fatalf("denied: %+v, %v", d, err)
		}
		if err := m.Settle(ctx, d.Ticket, actual); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryAdmitParallel measures throughput with every core
// admitting against the same counters (the worst case for the one mutex).
func BenchmarkMemoryAdmitParallel(b *testing.B) {
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: benchClock()})
	limits := benchLimits()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Admit(ctx, limits); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
