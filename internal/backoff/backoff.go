// Package backoff computes how long to wait between attempts of an
// upstream request: exponential backoff with full jitter, so that many
// clients retrying the same failure spread out instead of arriving
// together. It also provides a context-aware wait.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff with full jitter: the n-th wait (n from
// 0) is uniform in [0, min(Max, Initial*2^n)].
//
// The zero Policy waits 0 every time. A Policy is a plain value and is
// safe for concurrent use.
type Policy struct {
	// Initial is the cap of the first wait (attempt 0); each later attempt
	// doubles the cap. Zero or negative means no wait at all.
	Initial time.Duration
	// Max bounds the cap. Zero or negative means no bound other than the
	// largest Duration.
	Max time.Duration
}

// Delay returns the wait before retry number attempt (0 for the first
// retry): a uniform random duration in [0, min(Max, Initial*2^attempt)].
// A negative attempt counts as 0, and a large one saturates at Max without
// overflowing.
//
// rnd returns a number in [0, 1); nil means math/rand/v2's Float64.
// Results outside [0, 1) are clamped into it. Tests pass a fixed function
// for deterministic waits.
func (p Policy) Delay(attempt int, rnd func() float64) time.Duration {
	c := p.ceiling(attempt)
	if c <= 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	switch {
	case !(r >= 0): // negative or NaN
		r = 0
	case r >= 1:
		r = math.Nextafter(1, 0)
	}
	d := time.Duration(r * float64(c))
	// float64 rounding can push the product just past c or, for c near
	// the largest Duration, out of range.
	if d < 0 || d > c {
		d = c
	}
	return d
}

// ceiling returns min(Max, Initial*2^attempt) without overflow.
func (p Policy) ceiling(attempt int) time.Duration {
	if p.Initial <= 0 {
		return 0
	}
	limit := p.Max
	if limit <= 0 {
		limit = math.MaxInt64
	}
	if p.Initial >= limit {
		return limit
	}
	if attempt < 0 {
		attempt = 0
	}
	// Initial<<attempt stays within limit exactly when Initial is at most
	// limit>>attempt; checking that way round cannot overflow.
	if attempt >= 63 || p.Initial > limit>>attempt {
		return limit
	}
	return p.Initial << attempt
}

// Wait sleeps for d or until ctx is done, whichever comes first. It
// returns nil after a full wait and context.Cause(ctx) if ctx ended first,
// including when ctx is already done on entry. A d of zero or less returns
// at once. The timer it uses is stopped before it returns.
func Wait(ctx context.Context, d time.Duration) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
