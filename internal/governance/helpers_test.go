package governance

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/store"
)

// fakeClock is a settable clock shared by the engine and the memory
// limiter, so that windows and rates can be driven exactly.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// groups is a GroupSource over a map.
type groups map[string]store.Group

func (g groups) Get(name string) (store.Group, bool) {
	v, ok := g[name]
	return v, ok
}

// credits is a CreditSource over a fixed ledger.
type credits []store.Credit

func (c credits) CreditsChangedSince(_ context.Context, rev int64) ([]store.Credit, error) {
	var out []store.Credit
	for _, e := range c {
		if e.Rev > rev {
			out = append(out, e)
		}
	}
	return out, nil
}

// creditCache returns a refreshed cache over ledger.
func creditCache(t *testing.T, ledger ...store.Credit) *CreditCache {
	t.Helper()
	for i := range ledger {
		ledger[i].Rev = int64(i + 1)
	}
	c := NewCreditCache(credits(ledger), time.Hour, nil)
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeSpend reports fixed past spend and counts how often each counter's
// spend was read.
type fakeSpend struct {
	mu     sync.Mutex
	key    map[string]store.Money // by key ID
	group  map[string]store.Money // by group
	owner  map[string]store.Money // by owner
	calls  map[string]int         // "key:ID", "group:NAME", "owner:NAME"
	sinces []time.Time
	fail   error
}

func (s *fakeSpend) SpendSince(_ context.Context, keyID, group string, since time.Time) (store.Money, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.sinces = append(s.sinces, since)
	if keyID != "" {
		s.count("key:" + keyID)
		return s.key[keyID], nil
	}
	s.count("group:" + group)
	return s.group[group], nil
}

func (s *fakeSpend) OwnerTotals(_ context.Context, owner string) (store.Money, store.Money, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, 0, s.fail
	}
	s.count("owner:" + owner)
	return 0, s.owner[owner], nil
}

func (s *fakeSpend) count(k string) {
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[k]++
}

// flakyLimiter wraps a limiter and fails every call while broken is set.
type flakyLimiter struct {
	inner   ratelimit.Limiter
	broken  atomic.Bool
	admits  atomic.Int32
	settles atomic.Int32
}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (f *flakyLimiter) Admit(ctx context.Context, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	f.admits.Add(1)
	if f.broken.Load() {
		return ratelimit.Decision{Denied: -1}, errDown
	}
	return f.inner.Admit(ctx, limits)
}

func (f *flakyLimiter) Settle(ctx context.Context, t ratelimit.Ticket, actual []int64) error {
	f.settles.Add(1)
	if f.broken.Load() {
		return errDown
	}
	return f.inner.Settle(ctx, t, actual)
}

// start is a fixed instant in the middle of a month, a Wednesday.
var start = time.Date(2025, 6, 18, 12, 0, 0, 0, time.UTC)

// newEngine returns an engine over a memory limiter, both on one fake
// clock set to start. Zero fields of opts get those defaults.
func newEngine(t *testing.T, opts Options) (*Engine, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: start}
	if opts.Limiter == nil {
		opts.Limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clk.Now})
	}
	opts.Now = clk.Now
	return New(opts), clk
}

// principal is a key with the given limits.
func principal(l store.Limits) auth.Principal {
	return auth.Principal{KeyID: "key_0123456789abcdef", Name: "test", Limits: l}
}

// admit admits req and fails the test on any error.
func admit(t *testing.T, e *Engine, req Request) *Admission {
	t.Helper()
	a, err := e.Admit(t.Context(), req)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return a
}

// refuse admits req and returns the LimitError it must fail with.
func refuse(t *testing.T, e *Engine, req Request) *LimitError {
	t.Helper()
	a, err := e.Admit(t.Context(), req)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("Admit = %v, %v; want a *LimitError", a, err)
	}
	return le
}
