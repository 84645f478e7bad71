// Package breaker keeps a circuit breaker per upstream channel. A channel
// that keeps failing is opened: requests skip it until a cooldown has
// passed, then a single probe request tests it. A successful probe closes
// the channel again; a failed one reopens it with a doubled cooldown. The
// router asks the Set before each attempt and reports each outcome; the
// admin API and metrics read Snapshot.
package breaker

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// State is the state of one channel's circuit.
type State int

// The circuit states.
const (
	// Closed lets every request through and counts outcomes.
	Closed State = iota
	// Open rejects requests until its cooldown ends.
	Open
	// HalfOpen lets one probe request through and rejects the rest until
	// the probe reports.
	HalfOpen
)

// String returns "closed", "open" or "half_open", the names used in logs,
// metrics and the admin API.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "unknown"
}

// Default values, as returned by DefaultOptions.
const (
	// DefaultConsecutiveFailures is the default Options.ConsecutiveFailures.
	DefaultConsecutiveFailures = 5
	// DefaultFailureRatio is the default Options.FailureRatio.
	DefaultFailureRatio = 0.5
	// DefaultMinRequests is the default Options.MinRequests.
	DefaultMinRequests = 10
	// DefaultWindow is the default Options.Window.
	DefaultWindow = 30 * time.Second
	// DefaultCooldown is the default Options.Cooldown.
	DefaultCooldown = 10 * time.Second
	// DefaultMaxCooldown is the default Options.MaxCooldown.
	DefaultMaxCooldown = 2 * time.Minute
)

// Options configures a Set. Start from DefaultOptions: the trigger fields
// (ConsecutiveFailures, FailureRatio, MinRequests) are taken as given, so
// zero disables a trigger rather than selecting its default.
type Options struct {
	// ConsecutiveFailures opens a channel after this many failures in a
	// row. Zero or negative disables this trigger. DefaultOptions sets 5.
	ConsecutiveFailures int
	// FailureRatio opens a channel when failures/total over Window is at
	// least this share, once there are MinRequests outcomes in Window.
	// Zero or negative disables this trigger; above 1 it never fires.
	// DefaultOptions sets 0.5.
	FailureRatio float64
	// MinRequests is the least outcomes in Window before FailureRatio
	// applies. Negative counts as zero. DefaultOptions sets 10.
	MinRequests int
	// Window is the span of the sliding window for FailureRatio. It is
	// cut into 10 buckets, so the counts cover the last 90% to 100% of
	// it. Zero or negative means DefaultWindow (30s).
	Window time.Duration
	// Cooldown is how long a channel stays open before one probe is let
	// through. It is also how long a probe may stay out without reporting
	// before another caller may probe. Zero or negative means
	// DefaultCooldown (10s).
	Cooldown time.Duration
	// MaxCooldown caps the cooldown, which doubles after each failed
	// probe. Zero or negative means DefaultMaxCooldown (2m); less than
	// Cooldown means Cooldown.
	MaxCooldown time.Duration
	// Channels lists channel names known up front; they appear in
	// Snapshot before any traffic. Other names are added on first use.
	Channels []string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// OnChange, if not nil, is called after a channel changes state, for
	// logs and metrics. It is called without any lock held, from the
	// goroutine whose call caused the change, so calls for one channel
	// from different goroutines may arrive out of order. It must not
	// block for long.
	OnChange func(channel string, from, to State)
}

// DefaultOptions returns the recommended options: open after 5
// consecutive failures or a failure ratio of 0.5 over at least 10
// outcomes in 30s; cool down for 10s, doubling up to 2m.
func DefaultOptions() Options {
	return Options{
		ConsecutiveFailures: DefaultConsecutiveFailures,
		FailureRatio:        DefaultFailureRatio,
		MinRequests:         DefaultMinRequests,
		Window:              DefaultWindow,
		Cooldown:            DefaultCooldown,
		MaxCooldown:         DefaultMaxCooldown,
	}
}

// Set holds the circuits of all channels. It is safe for concurrent use:
// each channel has its own lock, finding a channel takes no lock once it
// exists, and Allow on a closed channel takes no lock at all.
//
// Every channel name ever used is kept, so names should come from
// configuration, not from clients.
type Set struct {
	opts   Options // normalized
	width  time.Duration
	origin time.Time

	channels atomic.Pointer[map[string]*channel] // copy on write
	addMu    sync.Mutex                          // serializes adding channels
}

// New returns a Set configured by opts, with every channel closed.
func New(opts Options) *Set {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = DefaultCooldown
	}
	if opts.MaxCooldown <= 0 {
		opts.MaxCooldown = DefaultMaxCooldown
	}
	opts.MaxCooldown = max(opts.MaxCooldown, opts.Cooldown)
	opts.MinRequests = max(opts.MinRequests, 0)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	names := opts.Channels
	opts.Channels = nil // the caller's slice is not kept
	s := &Set{opts: opts, width: max(opts.Window/buckets, 1)}
	s.origin = opts.Now()
	m := make(map[string]*channel, len(names))
	for _, name := range names {
		m[name] = s.newChannel()
	}
	s.channels.Store(&m)
	return s
}

// Allow reports whether a request may go to channel now.
//
// A closed channel allows every request. An open one rejects requests
// until its cooldown ends, and retryIn says how long that is. Once the
// cooldown has passed, the channel turns half-open and exactly one caller
// is let through as the probe (probe is true); the others are rejected
// until the probe reports, and their retryIn is the longest they wait
// before another probe may go (see Options.Cooldown).
//
// Every request Allow lets through must be followed by exactly one call
// of Success, Failure or Release with the same probe value.
func (s *Set) Allow(channel string) (ok, probe bool, retryIn time.Duration) {
	c := s.channel(channel)
	if State(c.fast.Load()) == Closed {
		return true, false, 0
	}
	now := s.opts.Now()
	c.mu.Lock()
	ok, probe, retryIn = c.allow(now, s.opts.Cooldown)
	ch := c.takeChange()
	c.mu.Unlock()
	s.notify(channel, ch)
	return ok, probe, retryIn
}

// Success reports that a request Allow let through succeeded; probe must
// echo what Allow returned. A successful probe closes the channel,
// forgetting past failures and resetting the cooldown. In a closed
// channel, a success ends the run of consecutive failures. Successes of
// requests let through before the channel opened do not close it.
func (s *Set) Success(channel string, probe bool) {
	s.report(channel, probe, false)
}

// Failure reports that a request Allow let through failed in a way that
// counts against the channel's health; probe must echo what Allow
// returned. In a closed channel the failure is counted and may open the
// channel. A failed probe reopens it with the cooldown doubled, up to
// MaxCooldown.
func (s *Set) Failure(channel string, probe bool) {
	s.report(channel, probe, true)
}

// Release reports that a request Allow let through ended without a
// verdict on the channel's health, for example because the client
// cancelled it; probe must echo what Allow returned. A released probe
// frees the probe slot so that another caller can probe at once. Releasing
// a request that was not a probe changes nothing.
func (s *Set) Release(channel string, probe bool) {
	if !probe {
		return
	}
	c := s.channel(channel)
	c.mu.Lock()
	if c.state == HalfOpen {
		c.probing = false
	}
	c.mu.Unlock()
}

// CoolDown opens channel for d from now, for example after an upstream
// 429 with Retry-After. If the channel is already open until later, that
// later end stays. After the cooldown a half-open probe goes as usual. The
// channel's doubling cooldown is not changed. A d of zero or less does
// nothing.
func (s *Set) CoolDown(channel string, d time.Duration) {
	if d <= 0 {
		return
	}
	c := s.channel(channel)
	now := s.opts.Now()
	c.mu.Lock()
	until := now.Add(d)
	if c.state != Open {
		c.open(until)
	} else if until.After(c.openUntil) {
		c.openUntil = until
	}
	ch := c.takeChange()
	c.mu.Unlock()
	s.notify(channel, ch)
}

// Snapshot describes one channel's circuit at one moment.
type Snapshot struct {
	// Channel is the channel's name.
	Channel string
	// State is the circuit's state. An Open channel whose OpenUntil has
	// passed turns HalfOpen on its next Allow.
	State State
	// ConsecutiveFailures is the current run of failures in a row.
	ConsecutiveFailures int
	// Failures and Total count failed and all outcomes over the window.
	Failures, Total int
	// OpenUntil is when an Open channel lets a probe through; zero unless
	// State is Open.
	OpenUntil time.Time
	// Cooldown is how long the channel stays open the next time a probe
	// fails or the failure triggers fire; it doubles with each failed
	// probe.
	Cooldown time.Duration
}

// Snapshot returns the state of every known channel, sorted by name.
func (s *Set) Snapshot() []Snapshot {
	m := *s.channels.Load()
	out := make([]Snapshot, 0, len(m))
	now := s.opts.Now()
	for name, c := range m {
		c.mu.Lock()
		c.w.advance(s.epoch(now))
		snap := Snapshot{
			Channel:             name,
			State:               c.state,
			ConsecutiveFailures: c.consecutive,
			Failures:            c.w.sum.failures,
			Total:               c.w.sum.total,
			Cooldown:            c.cooldown,
		}
		if c.state == Open {
			snap.OpenUntil = c.openUntil
		}
		c.mu.Unlock()
		out = append(out, snap)
	}
	slices.SortFunc(out, func(a, b Snapshot) int { return cmp.Compare(a.Channel, b.Channel) })
	return out
}

// report records a Success or Failure.
func (s *Set) report(channel string, probe, failed bool) {
	c := s.channel(channel)
	now := s.opts.Now()
	c.mu.Lock()
	c.w.advance(s.epoch(now))
	c.report(now, probe, failed)
	ch := c.takeChange()
	c.mu.Unlock()
	s.notify(channel, ch)
}

func (s *Set) notify(channel string, ch change) {
	if ch.from != ch.to && s.opts.OnChange != nil {
		s.opts.OnChange(channel, ch.from, ch.to)
	}
}

func (s *Set) epoch(now time.Time) int64 {
	return epochOf(now, s.origin, s.width)
}

// channel returns the circuit for name, adding a closed one if it is new.
func (s *Set) channel(name string) *channel {
	if c, ok := (*s.channels.Load())[name]; ok {
		return c
	}
	s.addMu.Lock()
	defer s.addMu.Unlock()
	old := *s.channels.Load()
	if c, ok := old[name]; ok {
		return c
	}
	m := maps.Clone(old)
	c := s.newChannel()
	m[name] = c
	s.channels.Store(&m)
	return c
}

func (s *Set) newChannel() *channel {
	return &channel{set: s, cooldown: s.opts.Cooldown}
}
