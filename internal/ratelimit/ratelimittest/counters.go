package ratelimittest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
)

func testConcurrencySlots(t *testing.T, e *env) {
	c := slots("key:k1:concurrent", 2, 0)
	a := e.mustAllow(c)
	wantState(t, "first", a.States[0], ratelimit.State{Limit: 2, Remaining: 1})
	b := e.mustAllow(c)
	wantState(t, "second", b.States[0], ratelimit.State{Limit: 2, Remaining: 0})
	d := e.mustDeny(0, c)
	if d.RetryAfter != 0 || !d.ResetAt.IsZero() {
		t.Fatalf("full: retry after %v, reset at %v; want zero values", d.RetryAfter, d.ResetAt)
	}
	wantState(t, "full", d.States[0], ratelimit.State{Limit: 2, Remaining: 0})
	e.settle(a, nil)
	third := e.mustAllow(c)
	e.settle(a, nil) // settled already: must not free a slot
	e.mustDeny(0, c)
	e.settle(b, []int64{5}) // actual use is ignored; the slot is released
	e.mustAllow(c)
	e.settle(third, nil)

	// Without a TTL a slot is held for ratelimit.DefaultTTL.
	one := slots("key:k2:concurrent", 1, 0)
	e.mustAllow(one)
	e.clock.Advance(ratelimit.DefaultTTL - time.Millisecond)
	e.mustDeny(0, one)
	e.clock.Advance(time.Millisecond)
	e.mustAllow(one)
}

func testConcurrencyTTL(t *testing.T, e *env) {
	c := slots("key:k1:concurrent", 1, 10*time.Second)
	old := e.mustAllow(c)
	e.clock.Advance(10*time.Second - time.Millisecond)
	e.mustDeny(0, c)
	e.clock.Advance(time.Millisecond)
	e.mustAllow(c)
	e.settle(old, nil) // the expired slot's release must not free the new one
	e.mustDeny(0, c)
}

func testQuotaWindow(t *testing.T, e *env) {
	t0 := e.clock.Now()
	end := t0.Add(time.Hour)
	q := quota("key:k1:daily", 100, end, 60)
	d := e.mustAllow(q)
	wantState(t, "first", d.States[0], ratelimit.State{Limit: 100, Remaining: 40, Reset: time.Hour})
	e.clock.Advance(time.Minute)
	q.Cost = 50
	d = e.mustDeny(0, q)
	if d.RetryAfter != 59*time.Minute || !d.ResetAt.Equal(end) {
		t.Fatalf("over quota: retry after %v, reset at %v; want 59m and %v", d.RetryAfter, d.ResetAt, end)
	}
	wantState(t, "over", d.States[0], ratelimit.State{Limit: 100, Remaining: 40, Reset: 59 * time.Minute})
	q.Cost = 40
	last := e.mustAllow(q)
	q.Cost = 101
	if d := e.mustDeny(0, q); d.RetryAfter != 0 || !d.ResetAt.Equal(end) {
		t.Fatalf("cost above limit: retry after %v, reset at %v; want 0 and %v", d.RetryAfter, d.ResetAt, end)
	}
	// A request naming another window end counts into the open window.
	e.mustDeny(0, quota(q.Key, 100, end.Add(time.Hour), 1))

	// At the window's end the counter starts over.
	e.clock.Advance(59*time.Minute - 1)
	e.mustDeny(0, quota(q.Key, 100, end, 1))
	e.clock.Advance(1)
	next := end.Add(24 * time.Hour)
	d = e.mustAllow(quota(q.Key, 100, next, 100))
	wantState(t, "new window", d.States[0], ratelimit.State{Limit: 100, Remaining: 0, Reset: 24 * time.Hour})
	e.settle(last, nil) // a refund for the old window must not reach the new one
	e.mustDeny(0, quota(q.Key, 100, next, 1))

	// A new window that has already ended is a caller bug.
	_, err := e.l.Admit(context.Background(), []ratelimit.Limit{quota("key:k2:daily", 100, e.clock.Now(), 1)})
	if !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Fatalf("window ended: error %v, want ErrInvalidLimit", err)
	}
}

func testQuotaSettle(t *testing.T, e *env) {
	end := e.clock.Now().Add(24 * time.Hour)
	q := quota("key:k1:daily-tokens", 1000, end, 600)
	d := e.mustAllow(q)
	e.settle(d, []int64{100})
	wantState(t, "refunded", e.remaining(q), ratelimit.State{Limit: 1000, Remaining: 900, Reset: 24 * time.Hour})
	d = e.mustAllow(q)
	e.settle(d, []int64{1000})
	wantState(t, "overdrawn", e.remaining(q), ratelimit.State{Limit: 1000, Remaining: 0, Reset: 24 * time.Hour})
	q.Cost = 1
	e.mustDeny(0, q)
}

func testBalance(t *testing.T, e *env) {
	b := balance("owner:o1:balance", 1000, 600)
	first := e.mustAllow(b)
	wantState(t, "first", first.States[0], ratelimit.State{Limit: 1000, Remaining: 400})
	d := e.mustDeny(0, b)
	if d.RetryAfter != 0 || !d.ResetAt.IsZero() {
		t.Fatalf("exhausted: retry after %v, reset at %v; want zero values", d.RetryAfter, d.ResetAt)
	}
	wantState(t, "exhausted", d.States[0], ratelimit.State{Limit: 1000, Remaining: 400})
	e.settle(first, nil) // failed request: not charged
	second := e.mustAllow(b)
	e.settle(second, []int64{700})
	wantState(t, "spent 700", e.remaining(b), ratelimit.State{Limit: 1000, Remaining: 300})
	// A top-up is a larger Limit; the spend stays.
	wantState(t, "topped up", e.remaining(balance(b.Key, 5000, 0)), ratelimit.State{Limit: 5000, Remaining: 4300})
	// Spend may overshoot by what was in flight; then nothing is admitted.
	third := e.mustAllow(balance(b.Key, 1000, 300))
	e.settle(third, []int64{500})
	e.mustDeny(0, balance(b.Key, 1000, 0))
}
