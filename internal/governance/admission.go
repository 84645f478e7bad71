package governance

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/store"
)

// Admission is an admitted request's hold on its counters. Settle must be
// called exactly once when the request ends. It is not safe for
// concurrent use.
type Admission struct {
	e         *Engine
	keyID     string // the calling key
	owner     string // who the key's spend is billed to, if anyone
	now       time.Time
	price     Price
	maxTokens int64
	estTokens int64
	estCost   store.Money
	limits    []ratelimit.Limit
	dims      []dim
	decision  ratelimit.Decision
	settled   bool
}

// Usage is what a request used.
type Usage struct {
	PromptTokens, CachedTokens, CompletionTokens int64
}

// Settle reconciles the counters with what the request really used and
// returns its cost. served reports whether the request was answered in
// full; otherwise nothing is charged and every reservation is released.
func (a *Admission) Settle(ctx context.Context, u Usage, served bool) (cost store.Money, charged bool) {
	if a == nil || a.settled {
		return 0, false
	}
	a.settled = true
	if served {
		cost = a.price.Cost(u.PromptTokens, u.CachedTokens, u.CompletionTokens)
	}
	if len(a.limits) == 0 || !a.decision.Allowed {
		return cost, served
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.e.opts.Timeout)
	defer cancel()
	var actual []int64
	if served {
		actual = make([]int64, len(a.limits))
		for i, d := range a.dims {
			switch d.unit {
			case unitRequests:
				actual[i] = 1
			case unitTokens:
				actual[i] = min(u.PromptTokens+u.CompletionTokens, ratelimit.MaxUnits)
			case unitMoney:
				actual[i] = int64(cost)
			}
		}
	}
	if err := a.e.opts.Limiter.Settle(ctx, a.decision.Ticket, actual); err != nil {
		a.e.log.Warn("settling usage with the limits backend failed", "key_id", a.keyID, "error", err)
	}
	return cost, served
}

// RateHeaders sets OpenAI's x-ratelimit-* headers from the key's tightest
// request and token rate limits (or the group's, model's or global ones
// when the key has none).
func (a *Admission) RateHeaders(h http.Header) {
	if a == nil || len(a.decision.States) == 0 {
		return
	}
	set := func(dimName, suffix string) {
		for i, d := range a.dims {
			if d.name != dimName || i >= len(a.decision.States) {
				continue
			}
			st := a.decision.States[i]
			h.Set("x-ratelimit-limit-"+suffix, strconv.FormatInt(st.Limit, 10))
			h.Set("x-ratelimit-remaining-"+suffix, strconv.FormatInt(st.Remaining, 10))
			h.Set("x-ratelimit-reset-"+suffix, formatReset(st.Reset))
			return
		}
	}
	set(DimRPM, "requests")
	set(DimTPM, "tokens")
}

// formatReset renders a duration the way OpenAI does: "1s", "6m0s", "12ms".
func formatReset(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(int64(math.Ceil(float64(d)/float64(time.Millisecond))), 10) + "ms"
	}
	return d.Round(time.Millisecond).String()
}

// LimitError says which limit refused a request and when to come back.
type LimitError struct {
	// Scope is key, group, model, global or owner.
	Scope string
	// Dimension is RPM, TPM, concurrency, daily requests, daily tokens,
	// daily cost, monthly budget or balance.
	Dimension string
	// Limit is the configured value (Money units for money dimensions).
	Limit int64
	// RetryAfter is how long until the limit admits the request; 0 when
	// it cannot be known (concurrency) or waiting does not help.
	RetryAfter time.Duration
	// ResetAt is when waiting ends: for a rate limit when the request
	// would be admitted, for a quota or budget the window's end; zero when
	// it does not reset.
	ResetAt time.Time
	// TooLarge reports that this one request needs more than the whole limit.
	TooLarge bool
	// Remaining is what is left (for a balance: the balance).
	Remaining int64
	// Owner is the balance's owner, for DimBalance.
	Owner string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s %s %d exceeded", e.Scope, e.Dimension, e.Limit)
}

// refusal describes the limit that refused.
func (a *Admission) refusal(d ratelimit.Decision) *LimitError {
	i := d.Denied
	if i < 0 || i >= len(a.dims) {
		i = 0
	}
	dm, l := a.dims[i], a.limits[i]
	le := &LimitError{Scope: dm.scope, Dimension: dm.name, Limit: dm.limit, RetryAfter: d.RetryAfter, ResetAt: d.ResetAt}
	if l.Kind == ratelimit.Rate && d.RetryAfter > 0 {
		// For a rate limit the moment that matters is when this request
		// would be admitted, not when the bucket is full again.
		le.ResetAt = a.now.Add(d.RetryAfter)
	}
	if i < len(d.States) {
		le.Remaining = d.States[i].Remaining
	}
	if l.Kind == ratelimit.Rate || l.Kind == ratelimit.Quota {
		// Compare the whole estimate with the configured limit: a money
		// counter seeded with past spend has a smaller Limit, and a request
		// that only exceeds what is left is refused, not too large.
		need := l.Cost
		switch dm.unit {
		case unitTokens:
			need = a.estTokens
		case unitMoney:
			need = int64(a.estCost)
		}
		le.TooLarge = need > dm.limit
	}
	if dm.name == DimBalance {
		// The counter's remaining units are the balance: credited minus
		// spent (with or without a seed, the difference is the same).
		le.Owner = a.owner
	}
	return le
}
