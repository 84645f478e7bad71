// Package ratelimit defines the counter engine that governance runs on the
// request hot path: rate limits (GCRA), concurrency slots, windowed quotas
// and prepaid balances, all admitted together and atomically by one call.
//
// A request builds one Limit per counter that applies to it (per key, per
// group, per model, globally) and calls Limiter.Admit once. Either every
// limit admits the request and all of them are taken, or none is taken and
// the Decision names the first limit that refused, when it would admit the
// request and what every counter looks like (for x-ratelimit-* headers).
// When the request ends, Limiter.Settle reconciles the estimate taken at
// admission with the actual use, or releases everything if the request
// failed.
//
// The package holds the in-process implementation (NewMemory). The Redis
// implementation, shared by several instances, lives in
// internal/ratelimit/redislimit; both pass the conformance suite in
// internal/ratelimit/ratelimittest and share the exact semantics documented
// here.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind says how a Limit counts.
type Kind int

// The kinds of counter. The zero Kind is Rate.
const (
	// Rate admits Limit units per Period with the generic cell rate
	// algorithm (GCRA): a burst of up to Limit units, then a smooth flow of
	// one unit per emission interval (Period/Limit). There is no window, so
	// there is no double burst at a window boundary.
	Rate Kind = iota
	// Concurrency admits at most Limit requests in flight. Each admission
	// holds one slot (Cost is ignored) until Settle releases it or until TTL
	// passes, so an instance that crashes cannot leak slots forever.
	Concurrency
	// Quota admits at most Limit units in a window that ends at Until; the
	// counter starts over after that (daily quotas, monthly budgets).
	Quota
	// Balance admits at most Limit units in total, with no window (prepaid
	// balances: Limit is the owner's credited total, the counter their spend).
	Balance
)

// String returns the kind's lower-case name.
func (k Kind) String() string {
	switch k {
	case Rate:
		return "rate"
	case Concurrency:
		return "concurrency"
	case Quota:
		return "quota"
	case Balance:
		return "balance"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Bounds on the values a Limit may carry. Units stay below 2^53 so that the
// Redis script, whose Lua numbers are doubles, computes exactly what the
// in-process limiter computes.
const (
	// MaxUnits bounds Limit, Cost and the actual use passed to Settle.
	MaxUnits = 1<<53 - 1
	// MaxPeriod bounds a Rate limit's Period and how far ahead of now a
	// Rate counter's theoretical arrival time may be pushed by Settle
	// charges (about 52 days).
	MaxPeriod = time.Duration(1 << 52)
	// DefaultTTL is how long a Concurrency slot is held when Limit.TTL is 0.
	DefaultTTL = 15 * time.Minute
)

// Limit is one counter a request must pass. The zero value is not valid:
// Key must be set and each Kind needs its own fields (see Validate).
type Limit struct {
	// Key identifies the counter, for example "key:key_ab12:rpm". The
	// caller makes it unique per scope and dimension. Counters of different
	// kinds never share state, even under the same Key.
	Key string
	// Kind says how the counter counts.
	Kind Kind
	// Limit is the capacity in units (requests, tokens, micro-units of
	// money, slots), from 0 to MaxUnits. A Rate limit needs at least 1.
	Limit int64
	// Period is a Rate limit's period, for example time.Minute. It must be
	// at most MaxPeriod and at least Limit nanoseconds; the emission
	// interval is Period/Limit rounded down to a whole nanosecond (see
	// Interval). Other kinds ignore it.
	Period time.Duration
	// Until is the end of a Quota limit's current window. A counter whose
	// window has ended starts over with the Until of the request that finds
	// it so; while a window is open, requests count into it whatever Until
	// they carry. Other kinds ignore it.
	Until time.Time
	// Cost is how many units this request takes, from 0 to MaxUnits; an
	// estimate for tokens and money that Settle corrects. Concurrency
	// ignores it (one request, one slot).
	Cost int64
	// TTL is how long a Concurrency slot may be held before it expires;
	// 0 means DefaultTTL. It is kept to whole milliseconds, rounded up.
	// Other kinds ignore it.
	TTL time.Duration
}

// Interval returns a Rate limit's emission interval, Period/Limit rounded
// down to a whole nanosecond. Burst capacity is Limit×Interval, which falls
// short of Period by less than Limit nanoseconds.
func (l Limit) Interval() time.Duration {
	if l.Limit <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Limit)
}

// SlotTTL returns how long a Concurrency slot of l is held, in whole
// milliseconds: TTL rounded up, or DefaultTTL when TTL is 0.
func (l Limit) SlotTTL() time.Duration {
	ttl := l.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// Decision is the answer to Admit.
type Decision struct {
	// Allowed reports whether every limit admitted the request; if so all
	// of them were taken.
	Allowed bool
	// Denied is the index of the first limit that refused, or -1.
	Denied int
	// RetryAfter is how long until the refused limit would admit this
	// request: exact for Rate (waiting exactly this long admits it, unless
	// others take the capacity first) and the time to the window's end for
	// Quota. It is 0 when unknown (Concurrency, Balance) and when the
	// request can never be admitted because its Cost exceeds a Rate or
	// Quota Limit; callers tell that case apart by comparing Cost and Limit
	// and should answer with an error that says the request is too large.
	// It is 0 when Allowed.
	RetryAfter time.Duration
	// ResetAt is when the refused limit resets: for Rate when it is fully
	// refilled, for Quota the window's end. It is the zero time when Allowed
	// and for Concurrency and Balance.
	ResetAt time.Time
	// States holds, per limit and in order, the counter after the decision:
	// with this request taken when Allowed, untouched otherwise.
	States []State
	// Ticket settles or releases what was taken. It is the zero Ticket when
	// not Allowed.
	Ticket Ticket
}

// State is one counter as a client sees it, for x-ratelimit-* headers.
type State struct {
	// Limit is the Limit's capacity.
	Limit int64
	// Remaining is how many units could still be taken now (never below 0):
	// for Rate at once without waiting, for Concurrency free slots.
	Remaining int64
	// Reset is, for Rate, the time until the counter is fully refilled
	// (OpenAI's x-ratelimit-reset-*), for Quota the time to the window's
	// end, and 0 for Concurrency and Balance.
	Reset time.Duration
}

// Limiter admits requests against counters. Implementations are safe for
// concurrent use.
type Limiter interface {
	// Admit checks every limit and, only if all of them allow the request,
	// takes them all, atomically: concurrent callers, on this instance or
	// another sharing the same store, can never jointly exceed a limit by
	// more than what was admitted before it was reached. Invalid limits
	// give an error wrapping ErrInvalidLimit; store failures give other
	// errors, and the caller decides whether to fail open or closed.
	Admit(ctx context.Context, limits []Limit) (Decision, error)
	// Settle reconciles a ticket from Admit with the actual use. For Rate,
	// Quota and Balance limits it adjusts each counter by actual[i]-Cost
	// (negative: a refund) and it releases Concurrency slots. actual has
	// one entry per limit, in Admit's order (ignored for Concurrency); nil
	// releases everything: every cost is refunded and every slot released,
	// so a failed request is not charged. Settle is idempotent per ticket;
	// the zero Ticket settles nothing. A Quota adjustment is dropped when
	// the window it was taken in has ended. A Rate refund never moves the
	// counter below empty (full burst available now).
	Settle(ctx context.Context, t Ticket, actual []int64) error
}

// Errors reported by limiters; match them with errors.Is.
var (
	// ErrInvalidLimit means a Limit passed to Admit is malformed, or a
	// Quota's Until lies in the past when its window would start.
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")
	// ErrInvalidSettle means Settle got a ticket from another limiter or an
	// actual slice of the wrong length or with a value out of range.
	ErrInvalidSettle = errors.New("ratelimit: invalid settle")
)

// Validate checks limits as Admit requires and returns an error wrapping
// ErrInvalidLimit for the first problem it finds. Limiter implementations
// call it; callers may, to check configuration early. Checks that need the
// limiter's clock (a Quota's Until in the past) happen in Admit.
func Validate(limits []Limit) error {
	for i, l := range limits {
		if err := validate(l); err != nil {
			return fmt.Errorf("%w: limit %d (%s %q): %s", ErrInvalidLimit, i, l.Kind, l.Key, err)
		}
		for j := range i {
			if limits[j].Key == l.Key && limits[j].Kind == l.Kind {
				return fmt.Errorf("%w: limit %d (%s %q): same counter as limit %d", ErrInvalidLimit, i, l.Kind, l.Key, j)
			}
		}
	}
	return nil
}

func validate(l Limit) error {
	switch {
	case l.Key == "":
		return errors.New("empty key")
	case l.Kind < Rate || l.Kind > Balance:
		return errors.New("unknown kind")
	case l.Limit < 0 || l.Limit > MaxUnits:
		return errors.New("limit out of range")
	case l.Cost < 0 || l.Cost > MaxUnits:
		return errors.New("cost out of range")
	}
	switch l.Kind {
	case Rate:
		switch {
		case l.Limit < 1:
			return errors.New("a rate limit needs a limit of at least 1")
		case l.Period <= 0 || l.Period > MaxPeriod:
			return errors.New("period out of range")
		case l.Interval() < 1:
			return errors.New("more units than nanoseconds per period")
		}
	case Concurrency:
		if l.TTL < 0 || l.TTL > MaxPeriod {
			return errors.New("ttl out of range")
		}
	case Quota:
		if l.Until.IsZero() || l.Until.Unix() <= 0 {
			return errors.New("a quota needs the end of its window (Until) after 1970")
		}
	}
	return nil
}

// Ticket is an opaque handle to what one Admit took; pass it to Settle of
// the limiter that issued it. The zero Ticket settles nothing. Tickets are
// safe for concurrent use and live only in the issuing process.
type Ticket struct {
	payload any
}

// MakeTicket wraps a limiter implementation's record of an admission. It is
// for Limiter implementations; callers treat tickets as opaque.
func MakeTicket(payload any) Ticket { return Ticket{payload: payload} }

// Payload returns the value given to MakeTicket, nil for the zero Ticket. It
// is for Limiter implementations.
func (t Ticket) Payload() any { return t.payload }

// IsZero reports whether t is the zero Ticket.
func (t Ticket) IsZero() bool { return t.payload == nil }
