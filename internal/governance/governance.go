// Package governance decides, for each request, whether the calling key
// may spend what it asks for: rate limits (requests and tokens per minute,
// concurrency) per key, group, model and globally; daily quotas; monthly
// budgets per key and group; and the owner's prepaid balance. Everything
// is admitted at once through one ratelimit.Limiter call, on an estimate,
// and settled with the real usage and cost when the request ends, or
// released when it fails so that a failed request is never charged.
package governance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/store"
)

// GroupSource returns a group by name; auth.GroupCache satisfies it.
type GroupSource interface {
	Get(name string) (store.Group, bool)
}

// Spend reads past spend from the store, to seed in-memory counters once
// per process; store backends satisfy it.
type Spend interface {
	SpendSince(ctx context.Context, keyID, group string, since time.Time) (store.Money, error)
	OwnerTotals(ctx context.Context, owner string) (credited, spent store.Money, err error)
}

// Options configure an Engine.
type Options struct {
	// Limiter holds the counters. Required.
	Limiter ratelimit.Limiter
	// Groups resolves a key's group. Nil means no groups.
	Groups GroupSource
	// Prices gives each model's price. Nil means everything is free.
	Prices *PriceTable
	// Credits gives each owner's credited total. Nil means no balances.
	Credits *CreditCache
	// Spend seeds money counters from the store the first time this process
	// uses them. Set it for in-process counters, which start empty; leave
	// it nil for shared counters (Redis), which keep their state.
	Spend Spend
	// Global are limits on all traffic (RPM, TPM, Concurrency).
	Global store.Limits
	// Models are limits per canonical model (RPM, TPM, Concurrency).
	Models map[string]store.Limits
	// DayStart is the time of day quotas reset, in Location. Zero: midnight.
	DayStart time.Duration
	// Location is the time zone of days and months. Nil means UTC.
	Location *time.Location
	// DefaultMaxTokens estimates the answer of a request that sets no max
	// tokens. Zero means 1024.
	DefaultMaxTokens int64
	// FailOpen admits requests when the limiter's store is unreachable
	// (logging it); otherwise they get a 503.
	FailOpen bool
	// Timeout bounds one limiter call. Zero means 250ms.
	Timeout time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives logs. Nil discards them.
	Logger *slog.Logger
}

// Engine admits and settles requests. It is safe for concurrent use.
type Engine struct {
	opts  Options
	log   *slog.Logger
	seeds sync.Map // counter key -> store.Money already spent before this process used it

	// While the limiter's store fails, requests get the policy's answer
	// at once instead of each waiting for a timeout; one request at a time
	// probes the store again every probeInterval.
	degraded  atomic.Bool
	mu        sync.Mutex
	nextProbe time.Time
	probing   bool
	lastErr   error // the store's last failure
}

// probeInterval is how often a failing limiter store is tried again.
const probeInterval = 500 * time.Millisecond

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.DefaultMaxTokens <= 0 {
		opts.DefaultMaxTokens = 1024
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{opts: opts, log: log}
}

// Request is what admission needs to know about one request.
type Request struct {
	// Principal is the calling key.
	Principal auth.Principal
	// Model is the canonical model name.
	Model string
	// PromptTokens estimates the prompt.
	PromptTokens int64
	// MaxTokens is the request's max tokens; 0 uses the default estimate.
	MaxTokens int64
}

// ErrUnavailable means the limiter's store failed and the policy is to
// fail closed.
var ErrUnavailable = errors.New("governance: limits backend unavailable")

// ErrGroupModel means the model is outside the key's group's models.
var ErrGroupModel = errors.New("governance: model not allowed for the key's group")

// Admit checks and takes every limit that applies to req. A refusal is a
// *LimitError; a failing limiter store is ErrUnavailable when failing
// closed, or an Admission without counters when failing open.
func (e *Engine) Admit(ctx context.Context, req Request) (*Admission, error) {
	now := e.opts.Now()
	a := &Admission{e: e, keyID: req.Principal.KeyID, owner: req.Principal.Owner, now: now}
	group, _ := e.group(req.Principal.Group)
	if !allows(group.Models, req.Model) {
		return nil, ErrGroupModel
	}
	a.price = e.opts.Prices.Price(req.Model, group.PriceMultiplierPPM)
	a.maxTokens = req.MaxTokens
	if a.maxTokens <= 0 {
		a.maxTokens = e.opts.DefaultMaxTokens
	}
	a.estTokens = req.PromptTokens + a.maxTokens
	a.estCost = a.price.Cost(req.PromptTokens, 0, a.maxTokens)
	if err := e.build(ctx, a, &req, &group); err != nil {
		return nil, err
	}
	if len(a.limits) == 0 {
		return a, nil
	}
	if e.degraded.Load() {
		if probe, lastErr := e.mayProbe(now); !probe {
			return e.unavailable(a, lastErr)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	d, err := e.opts.Limiter.Admit(lctx, a.limits)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			e.endProbe(now, false)
			return nil, ctx.Err()
		}
		e.endProbe(now, false)
		return e.unavailable(a, err)
	}
	e.recovered()
	a.decision = d
	if !d.Allowed {
		return nil, a.refusal(d)
	}
	return a, nil
}

// mayProbe reports whether this request may try the failing store.
func (e *Engine) mayProbe(now time.Time) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.probing || now.Before(e.nextProbe) {
		return false, e.lastErr
	}
	e.probing = true
	return true, nil
}

// endProbe schedules the next probe after a failure.
func (e *Engine) endProbe(now time.Time, ok bool) {
	if !e.degraded.Load() {
		return
	}
	e.mu.Lock()
	e.probing = false
	if !ok {
		e.nextProbe = now.Add(probeInterval)
	}
	e.mu.Unlock()
}

// unavailable applies the fail-open or fail-closed policy.
func (e *Engine) unavailable(a *Admission, err error) (*Admission, error) {
	first := !e.degraded.Swap(true)
	e.mu.Lock()
	e.lastErr = err
	if first {
		e.nextProbe = e.opts.Now().Add(probeInterval)
	}
	e.mu.Unlock()
	if first {
		e.log.Error("limits backend unreachable", "fail_open", e.opts.FailOpen, "error", err)
	}
	if e.opts.FailOpen {
		a.limits, a.dims = nil, nil
		return a, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (e *Engine) recovered() {
	if !e.degraded.Load() {
		return
	}
	e.mu.Lock()
	e.probing = false
	e.mu.Unlock()
	if e.degraded.Swap(false) {
		e.log.Info("limits backend reachable again")
	}
}

// allows reports whether model matches one of patterns (all when empty).
func allows(patterns []string, model string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, model); ok && err == nil {
			return true
		}
	}
	return false
}

func (e *Engine) group(name string) (store.Group, bool) {
	if name == "" || e.opts.Groups == nil {
		return store.Group{}, false
	}
	return e.opts.Groups.Get(name)
}
