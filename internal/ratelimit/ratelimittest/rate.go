package ratelimittest

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
)

func testRateBurstThenSteady(t *testing.T, e *env) {
	rpm := rate("key:k1:rpm", 60, time.Minute, 1)
	t0 := e.clock.Now()
	for i := range 60 {
		d := e.mustAllow(rpm)
		wantState(t, "burst", d.States[0], ratelimit.State{Limit: 60, Remaining: int64(59 - i), Reset: time.Duration(i+1) * time.Second})
	}
	d := e.mustDeny(0, rpm)
	if d.RetryAfter != time.Second || !d.ResetAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after burst: retry after %v, reset at %v; want 1s, %v", d.RetryAfter, d.ResetAt, t0.Add(time.Minute))
	}
	wantState(t, "after burst", d.States[0], ratelimit.State{Limit: 60, Remaining: 0, Reset: time.Minute})
	// Then exactly one request per emission interval.
	for range 30 {
		e.clock.Advance(time.Second)
		e.mustAllow(rpm)
		e.mustDeny(0, rpm)
	}
}

func testRateNoDoubleBurst(t *testing.T, e *env) {
	rpm := rate("key:k1:rpm", 60, time.Minute, 1)
	admitted := func() int {
		n := 0
		for {
			d := e.admit(rpm)
			if !d.Allowed {
				return n
			}
			n++
		}
	}
	// Burst at the end of a minute, then step through the next two minutes
	// in 100ms steps: a fixed window would admit a second burst at the
	// boundary; GCRA admits one request per second.
	e.clock.Advance(59 * time.Second)
	if n := admitted(); n != 60 {
		t.Fatalf("first burst admitted %d, want 60", n)
	}
	total := 0
	for step := 1; step <= 1200; step++ {
		e.clock.Advance(100 * time.Millisecond)
		n := admitted()
		if n > 1 {
			t.Fatalf("at +%v after the burst: %d admitted at once, want at most 1", time.Duration(step)*100*time.Millisecond, n)
		}
		total += n
	}
	if total != 120 {
		t.Fatalf("admitted %d in the two minutes after the burst, want 120", total)
	}
}

func testRateRetryAfterExact(t *testing.T, e *env) {
	// 7 per minute: the emission interval is not a whole number of
	// milliseconds, so any rounding would show.
	l := rate("key:k1:rpm", 7, time.Minute, 3)
	iv := l.Interval()
	tau := iv * 7
	t0 := e.clock.Now()
	e.mustAllow(l)
	e.mustAllow(l)
	d := e.mustDeny(0, l)
	want := 9*iv - tau
	if d.RetryAfter != want {
		t.Fatalf("retry after %v, want %v", d.RetryAfter, want)
	}
	if !d.ResetAt.Equal(t0.Add(6 * iv)) {
		t.Fatalf("reset at %v, want %v", d.ResetAt, t0.Add(6*iv))
	}
	e.clock.Advance(d.RetryAfter - 1)
	if d2 := e.mustDeny(0, l); d2.RetryAfter != 1 {
		t.Fatalf("a nanosecond early: retry after %v, want 1ns", d2.RetryAfter)
	}
	e.clock.Advance(1)
	if d := e.mustAllow(l); d.States[0].Remaining != 0 || d.States[0].Reset != tau {
		t.Fatalf("admitted after waiting: state %+v, want 0 remaining and reset %v", d.States[0], tau)
	}
}

func testRateStates(t *testing.T, e *env) {
	l := rate("key:k1:tpm", 10, 10*time.Second, 4)
	d := e.mustAllow(l)
	wantState(t, "first", d.States[0], ratelimit.State{Limit: 10, Remaining: 6, Reset: 4 * time.Second})
	e.clock.Advance(1500 * time.Millisecond)
	l.Cost = 1
	d = e.mustAllow(l)
	wantState(t, "second", d.States[0], ratelimit.State{Limit: 10, Remaining: 6, Reset: 3500 * time.Millisecond})
	e.clock.Advance(time.Hour)
	wantState(t, "idle", e.remaining(l), ratelimit.State{Limit: 10, Remaining: 10})
}

func testRateCostAboveLimit(t *testing.T, e *env) {
	now := e.clock.Now()
	d := e.mustDeny(0, rate("key:k1:tpm", 10, time.Minute, 11))
	if d.RetryAfter != 0 || !d.ResetAt.Equal(now) {
		t.Fatalf("cost above limit: retry after %v, reset at %v; want 0 and now", d.RetryAfter, d.ResetAt)
	}
	wantState(t, "untouched", d.States[0], ratelimit.State{Limit: 10, Remaining: 10})
}

func testTokensSettle(t *testing.T, e *env) {
	tpm := rate("key:k1:tpm", 1000, time.Minute, 800) // interval 60ms
	iv := tpm.Interval()
	t.Run("refund", func(t *testing.T) {
		d := e.mustAllow(tpm)
		wantState(t, "estimate", d.States[0], ratelimit.State{Limit: 1000, Remaining: 200, Reset: 48 * time.Second})
		e.settle(d, []int64{200})
		wantState(t, "settled", e.remaining(tpm), ratelimit.State{Limit: 1000, Remaining: 800, Reset: 12 * time.Second})
		e.mustAllow(tpm)
		if d := e.mustDeny(0, rate(tpm.Key, 1000, time.Minute, 1)); d.RetryAfter != iv {
			t.Fatalf("retry after %v, want %v", d.RetryAfter, iv)
		}
	})
	t.Run("extra", func(t *testing.T) {
		l := rate("key:k2:tpm", 1000, time.Minute, 500)
		d := e.mustAllow(l)
		e.settle(d, []int64{1500})
		l.Cost = 1
		d = e.mustDeny(0, l)
		if want := 90*time.Second + iv - time.Minute; d.RetryAfter != want {
			t.Fatalf("retry after %v, want %v", d.RetryAfter, want)
		}
		wantState(t, "overdrawn", d.States[0], ratelimit.State{Limit: 1000, Remaining: 0, Reset: 90 * time.Second})
	})
	t.Run("refund never below empty", func(t *testing.T) {
		l := rate("key:k3:tpm", 1000, time.Minute, 500)
		d := e.mustAllow(l)
		e.clock.Advance(time.Hour)
		e.settle(d, nil)
		l.Cost = 1000
		wantState(t, "full burst only", e.mustAllow(l).States[0], ratelimit.State{Limit: 1000, Remaining: 0, Reset: time.Minute})
	})
}
