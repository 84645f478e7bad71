package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tollgate/tollgate/internal/backoff"
)

// Breaker is the per-channel circuit breaker the planner consults;
// breaker.Set satisfies it.
type Breaker interface {
	Allow(channel string) (ok, probe bool, retryIn time.Duration)
	Success(channel string, probe bool)
	Failure(channel string, probe bool)
	CoolDown(channel string, d time.Duration)
	Release(channel string, probe bool)
}

// Budget bounds retries into each channel; retrybudget.Budget satisfies it.
type Budget interface {
	Request(channel string)
	TryRetry(channel string) bool
}

// Executor holds the health state shared by all requests and makes a Plan
// per request. It is safe for concurrent use.
type Executor struct {
	// Breaker is consulted before each attempt. Nil means no circuit breaking.
	Breaker Breaker
	// Budget bounds retries. Nil means no budget.
	Budget Budget
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Rand returns a number in [0,1) for jitter and weighted choice. Nil
	// means math/rand/v2.
	Rand func() float64

	rateLimited sync.Map // circuit key -> time.Time until which an upstream 429 cools it
}

// perTargetAttempts is the most attempts one channel gets per request:
// the first and one retry. Further attempts go elsewhere.
const perTargetAttempts = 2

// Attempt is one planned upstream attempt.
type Attempt struct {
	// N counts attempts from 1.
	N int
	// Model is the model being served: the requested one or a fallback.
	Model *Model
	// Target is the channel to send to.
	Target Target
	// Fallback reports whether Model is a fallback.
	Fallback bool
	// Retry reports whether this channel was already tried for the request.
	Retry bool
	// Waited is the backoff or Retry-After wait before this attempt.
	Waited time.Duration

	probe bool
	mi    int
}

// Record is the outcome of one attempt, for logs and response headers.
type Record struct {
	Attempt
	// Class is why it failed; empty on success.
	Class Class
	// Err is the failure; nil on success.
	Err error
}

// NoTargetError says no channel could take the request: every route is
// excluded, cooling down or over its retry budget.
type NoTargetError struct {
	// Model is the requested model.
	Model string
	// RetryIn is the soonest a cooling channel accepts requests again.
	RetryIn time.Duration
	// RateLimited reports that the channels are cooling down because their
	// upstream answered 429 with Retry-After.
	RateLimited bool
}

func (e *NoTargetError) Error() string {
	return fmt.Sprintf("no channel can serve model %s now: every route is failing or cooling down (retry in %v)", e.Model, e.RetryIn.Round(time.Second))
}

// Plan walks the attempts of one request. It is not safe for concurrent use.
type Plan struct {
	x           *Executor
	endpoint    string
	policy      Policy
	deadline    time.Time
	models      []*Model
	on          [][]Class // fallback classes per model index (nil for the requested model)
	mi          int
	routes      []routeState // per route tried or excluded; a handful at most
	records     []Record
	retryIn     time.Duration // the soonest a cooling channel reopens
	rateLimited bool          // a channel was refused because an upstream 429 cools it
	lastRetry   time.Duration // the last failure's Retry-After
}

type routeKey struct {
	mi      int
	channel string
}

// routeState is what the plan knows about one route in this request.
type routeState struct {
	key      routeKey
	tries    int
	excluded bool
}

// route returns the state of k, adding it if new. A request touches few
// routes, so a slice beats a map and allocates nothing for most requests.
func (p *Plan) route(k routeKey) *routeState {
	for i := range p.routes {
		if p.routes[i].key == k {
			return &p.routes[i]
		}
	}
	p.routes = append(p.routes, routeState{key: k})
	return &p.routes[len(p.routes)-1]
}

func (p *Plan) triesOf(k routeKey) int {
	for i := range p.routes {
		if p.routes[i].key == k {
			return p.routes[i].tries
		}
	}
	return 0
}

func (p *Plan) isExcluded(k routeKey) bool {
	for i := range p.routes {
		if p.routes[i].key == k {
			return p.routes[i].excluded
		}
	}
	return false
}

// NewPlan starts the attempts for a request of model m on endpoint, all
// of which must end by deadline (zero means none).
func (x *Executor) NewPlan(m *Model, endpoint string, deadline time.Time) *Plan {
	p := &Plan{
		x: x, endpoint: endpoint, policy: m.Policy(endpoint), deadline: deadline,
		models: []*Model{m}, on: [][]Class{nil},
	}
	for i, fm := range m.fallbackModels {
		p.models = append(p.models, fm)
		p.on = append(p.on, m.Fallbacks[i].On)
	}
	return p
}

// Records returns the attempts so far with their outcomes.
func (p *Plan) Records() []Record { return p.records }

// Next returns the next attempt, after waiting any backoff. It returns the
// last attempt's error when nothing more may be tried, a *NoTargetError
// when no channel could take the first attempt, or the context's cause if
// ctx ends while waiting.
func (p *Plan) Next(ctx context.Context) (Attempt, error) {
	last := p.last()
	if last != nil && last.Err != nil && !p.mayContinue(last.Class) {
		return Attempt{}, last.Err
	}
	for len(p.records) < p.policy.MaxAttempts && p.mi < len(p.models) {
		if p.mi > 0 && !p.fallbackApplies(p.mi, last) {
			p.mi++
			continue
		}
		a, wait, ok := p.pick(last)
		if !ok {
			p.mi++
			continue
		}
		if wait > 0 {
			if !p.fits(wait) {
				p.route(routeKey{a.mi, a.Target.Channel}).excluded = true
				continue
			}
			if err := backoff.Wait(ctx, wait); err != nil {
				return Attempt{}, err
			}
			a.Waited = wait
		}
		if !p.admit(&a) {
			continue
		}
		a.N = len(p.records) + 1
		p.records = append(p.records, Record{Attempt: a})
		p.route(routeKey{a.mi, a.Target.Channel}).tries++
		return a, nil
	}
	if last != nil && last.Err != nil {
		return Attempt{}, last.Err
	}
	return Attempt{}, &NoTargetError{Model: p.models[0].Name, RetryIn: p.retryIn, RateLimited: p.rateLimited}
}

// Done records the outcome of the attempt Next returned: nil for success.
// It feeds the circuit breaker.
func (p *Plan) Done(a Attempt, err error) {
	rec := &p.records[a.N-1]
	rec.Err = err
	rec.Class = Classify(err)
	// A retry of the same channel waits at least the upstream's
	// Retry-After, whatever the status (429, 503) that carried it.
	p.lastRetry = retryAfter(err)
	ch := a.Target.CircuitKey()
	switch {
	case err == nil:
		p.breakerDo(func(b Breaker) { b.Success(ch, a.probe) })
	case rec.Class == ClassCanceled:
		p.breakerDo(func(b Breaker) { b.Release(ch, a.probe) })
	case rec.Class == ClassRateLimit && p.lastRetry > 0:
		p.x.rateLimited.Store(ch, p.now().Add(p.lastRetry))
		p.breakerDo(func(b Breaker) {
			b.Release(ch, a.probe)
			b.CoolDown(ch, p.lastRetry)
		})
	case healthFailure(rec.Class):
		p.breakerDo(func(b Breaker) { b.Failure(ch, a.probe) })
	default: // the request was at fault, not the channel
		p.breakerDo(func(b Breaker) { b.Success(ch, a.probe) })
	}
	if neverRepeat(rec.Class) {
		p.route(routeKey{a.mi, a.Target.Channel}).excluded = true
	}
}

func (p *Plan) last() *Record {
	if len(p.records) == 0 {
		return nil
	}
	return &p.records[len(p.records)-1]
}

// mayContinue reports whether a failure of this class can lead to another
// attempt: a retry, a failover or a fallback.
func (p *Plan) mayContinue(c Class) bool {
	if c == ClassCanceled {
		return false
	}
	if slices.Contains(p.policy.RetryOn, c) || c == ClassUpstreamAuth {
		return true
	}
	for i := 1; i < len(p.models); i++ {
		if slices.Contains(p.on[i], c) {
			return true
		}
	}
	return false
}

// fallbackApplies reports whether model index mi may serve after the last
// failure: its classes must include the failure's (a first attempt that
// found no usable channel counts as a server error).
func (p *Plan) fallbackApplies(mi int, last *Record) bool {
	c := ClassServerError
	if last != nil && last.Err != nil {
		c = last.Class
	}
	return slices.Contains(p.on[mi], c)
}

// pick chooses the next target of the current model: an untried channel
// at once (failover), else a retry of a tried one after a backoff.
func (p *Plan) pick(last *Record) (Attempt, time.Duration, bool) {
	m := p.models[p.mi]
	sameModel := last != nil && last.mi == p.mi
	// A channel whose credentials are rejected is broken, not the request:
	// the model's other channels may serve, but nothing is retried.
	failoverOnly := sameModel && last.Err != nil && last.Class == ClassUpstreamAuth
	if sameModel && last.Err != nil && !failoverOnly && !slices.Contains(p.policy.RetryOn, last.Class) {
		return Attempt{}, 0, false
	}
	base := Attempt{Model: m, Fallback: p.mi > 0, mi: p.mi}
	if t, ok := p.choose(m, func(k routeKey) bool { return p.triesOf(k) == 0 }); ok {
		base.Target = t
		return base, 0, true
	}
	if failoverOnly {
		return Attempt{}, 0, false
	}
	t, ok := p.choose(m, func(k routeKey) bool { n := p.triesOf(k); return n > 0 && n < perTargetAttempts })
	if !ok {
		return Attempt{}, 0, false
	}
	base.Target, base.Retry = t, true
	wait := p.policy.Backoff.Delay(p.retries(), p.x.Rand)
	if last != nil && last.Target.Channel == t.Channel {
		wait = max(wait, p.lastRetry)
	}
	return base, wait, true
}

// retries counts the attempts after the first.
func (p *Plan) retries() int { return max(len(p.records)-1, 0) }

// choose makes a weighted choice among the best-priority targets of m
// that are not excluded and satisfy ok.
func (p *Plan) choose(m *Model, ok func(routeKey) bool) (Target, bool) {
	var tier []Target
	for _, t := range m.Targets {
		k := routeKey{p.mi, t.Channel}
		if p.isExcluded(k) || !ok(k) || t.Weight <= 0 {
			continue
		}
		if len(tier) > 0 && t.Priority != tier[0].Priority {
			break
		}
		tier = append(tier, t)
	}
	switch len(tier) {
	case 0:
		return Target{}, false
	case 1:
		return tier[0], true
	}
	total := 0
	for _, t := range tier {
		total += t.Weight
	}
	r := int(p.rand() * float64(total))
	for _, t := range tier {
		if r -= t.Weight; r < 0 {
			return t, true
		}
	}
	return tier[len(tier)-1], true
}

// admit asks the breaker and the retry budget; a refused target is
// excluded for this request.
func (p *Plan) admit(a *Attempt) bool {
	ch := a.Target.Channel
	k := routeKey{a.mi, ch}
	if p.x.Breaker != nil {
		ok, probe, retryIn := p.x.Breaker.Allow(a.Target.CircuitKey())
		if !ok {
			p.route(k).excluded = true
			if p.retryIn == 0 || retryIn < p.retryIn {
				p.retryIn = retryIn
			}
			if until, ok := p.x.rateLimited.Load(a.Target.CircuitKey()); ok && p.now().Before(until.(time.Time)) {
				p.rateLimited = true
			}
			return false
		}
		a.probe = probe
	}
	if p.x.Budget != nil {
		// The budget bounds repeats into a channel: a failover to a channel
		// this request has not tried is a first attempt there.
		if !a.Retry {
			p.x.Budget.Request(ch)
		} else if !p.x.Budget.TryRetry(ch) {
			p.route(k).excluded = true
			p.breakerDo(func(b Breaker) { b.Release(a.Target.CircuitKey(), a.probe) })
			return false
		}
	}
	return true
}

// fits reports whether waiting d leaves time before the deadline.
func (p *Plan) fits(d time.Duration) bool {
	if p.deadline.IsZero() {
		return true
	}
	return p.now().Add(d).Before(p.deadline)
}

func (p *Plan) breakerDo(f func(Breaker)) {
	if p.x.Breaker != nil {
		f(p.x.Breaker)
	}
}

func (p *Plan) now() time.Time {
	if p.x.Now != nil {
		return p.x.Now()
	}
	return time.Now()
}

func (p *Plan) rand() float64 {
	if p.x.Rand != nil {
		return p.x.Rand()
	}
	return rand.Float64()
}

// retryAfter returns the upstream's Retry-After hint carried by err.
func retryAfter(err error) time.Duration {
	var ra interface{ RetryAfterHint() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfterHint()
	}
	return 0
}

// MaxAttempts returns the most attempts the plan allows.
func (p *Plan) MaxAttempts() int { return p.policy.MaxAttempts }

// Again records one more attempt on the same target at once, when the
// attempt budget allows. It serves a retry that tollgate itself makes
// necessary, such as regenerating an answer after a channel rejected an
// assistant prefill; the attempt still counts against MaxAttempts.
func (p *Plan) Again(prev Attempt) (Attempt, bool) {
	if len(p.records) >= p.policy.MaxAttempts {
		return Attempt{}, false
	}
	a := prev
	a.N, a.Retry, a.Waited, a.probe = len(p.records)+1, true, 0, false
	p.records = append(p.records, Record{Attempt: a})
	p.route(routeKey{a.mi, a.Target.Channel}).tries++
	return a, true
}
