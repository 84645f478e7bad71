package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate/tollgate/internal/backoff"
	"github.com/tollgate/tollgate/internal/provider"
)

// fakeBreaker is a circuit breaker driven by the test: a channel is open
// until a set time (by CoolDown or by the test), and every call is noted.
type fakeBreaker struct {
	mu        sync.Mutex
	openUntil map[string]time.Time
	calls     []string
}

var _ Breaker = (*fakeBreaker)(nil)

func newFakeBreaker() *fakeBreaker { return &fakeBreaker{openUntil: map[string]time.Time{}} }

func (b *fakeBreaker) note(format string, args ...any) {
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

func (b *fakeBreaker) Allow(ch string) (ok, probe bool, retryIn time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until, open := b.openUntil[ch]; open {
		if wait := time.Until(until); wait > 0 {
			b.note("refuse %s", ch)
			return false, false, wait
		}
		delete(b.openUntil, ch)
		b.note("probe %s", ch)
		return true, true, 0
	}
	return true, false, 0
}

func (b *fakeBreaker) Success(ch string, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.note("success %s probe=%v", ch, probe)
}

func (b *fakeBreaker) Failure(ch string, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.note("failure %s probe=%v", ch, probe)
}

func (b *fakeBreaker) Release(ch string, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.note("release %s probe=%v", ch, probe)
}

func (b *fakeBreaker) CoolDown(ch string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.openUntil[ch] = time.Now().Add(d)
	b.note("cooldown %s %v", ch, d)
}

func (b *fakeBreaker) open(ch string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.openUntil[ch] = time.Now().Add(d)
}

func (b *fakeBreaker) log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// fakeBudget counts first attempts and retries per channel and refuses
// retries into the channels listed in deny.
type fakeBudget struct {
	mu       sync.Mutex
	requests map[string]int
	retries  map[string]int
	deny     map[string]bool
}

var _ Budget = (*fakeBudget)(nil)

func newFakeBudget(deny ...string) *fakeBudget {
	b := &fakeBudget{requests: map[string]int{}, retries: map[string]int{}, deny: map[string]bool{}}
	for _, ch := range deny {
		b.deny[ch] = true
	}
	return b
}

func (b *fakeBudget) Request(ch string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests[ch]++
}

func (b *fakeBudget) TryRetry(ch string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deny[ch] {
		return false
	}
	b.retries[ch]++
	return true
}

// testBackoff makes the n-th retry's wait, with Rand fixed at 0.5, 50ms,
// 100ms, 200ms, 200ms...
var testBackoff = backoff.Policy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond}

func statusErr(ch string, status int, code string, ra time.Duration) error {
	return &provider.Error{Kind: provider.KindStatus, Phase: provider.PhaseResponseHeader, Channel: ch,
		Status: status, Code: code, RetryAfter: ra}
}

func timeoutErr(ch string) error {
	return &provider.Error{Kind: provider.KindTimeout, Phase: provider.PhaseResponseHeader, Channel: ch,
		Limit: time.Second, Elapsed: time.Second}
}

func resetErr(ch string) error {
	return &provider.Error{Kind: provider.KindNetwork, Phase: provider.PhaseResponseHeader, Channel: ch,
		Message: "connection reset"}
}

func canceledErr(ch string) error {
	return &provider.Error{Kind: provider.KindCanceled, Phase: provider.PhaseResponseHeader, Channel: ch, Err: context.Canceled}
}

// testTable builds the routing table the planner tests share:
//
//	solo:  one channel "a"
//	pair:  "a" (priority 0) then "b" (priority 1)
//	small: "a", falling back to large on context_length_exceeded
//	large: "c"
//	main:  "a", falling back to ctx-only (never for these tests' failures)
//	       and then to spare on rate_limit/server_error
//	spare: "s"
func testTable(t *testing.T, maxAttempts int) *Table {
	t.Helper()
	pol := map[string]Policy{"chat": {MaxAttempts: maxAttempts, Backoff: testBackoff,
		RetryOn: []Class{ClassRateLimit, ClassTimeout, ClassServerError}}}
	tg := func(ch string, prio int) Target {
		return Target{Channel: ch, UpstreamModel: "up", Weight: 1, Priority: prio}
	}
	tbl, err := New([]Model{
		{Name: "solo", Targets: []Target{tg("a", 0)}, Policies: pol},
		{Name: "pair", Targets: []Target{tg("b", 1), tg("a", 0)}, Policies: pol},
		{Name: "small", Targets: []Target{tg("a", 0)}, Policies: pol,
			Fallbacks: []Fallback{{Model: "large", On: []Class{ClassContextLength}}}},
		{Name: "large", Targets: []Target{tg("c", 0)}, Policies: pol},
		{Name: "main", Targets: []Target{tg("a", 0)}, Policies: pol,
			Fallbacks: []Fallback{{Model: "large", On: []Class{ClassContextLength}},
				{Model: "spare", On: []Class{ClassRateLimit, ClassServerError}}}},
		{Name: "spare", Targets: []Target{tg("s", 0)}, Policies: pol},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// wantAttempt is what one planned attempt should look like.
type wantAttempt struct {
	channel  string
	model    string
	retry    bool
	fallback bool
	waited   time.Duration
}

func (w wantAttempt) String() string {
	return fmt.Sprintf("%s/%s retry=%v fallback=%v waited=%v", w.model, w.channel, w.retry, w.fallback, w.waited)
}

func gotAttempt(a Attempt) wantAttempt {
	return wantAttempt{channel: a.Target.Channel, model: a.Model.Name, retry: a.Retry, fallback: a.Fallback, waited: a.Waited}
}

// runPlan walks a plan, answering each attempt with the next outcome, and
// returns the attempts and the error that ended it (nil on success).
func runPlan(t *testing.T, p *Plan, outcomes []error) ([]wantAttempt, error) {
	t.Helper()
	var got []wantAttempt
	for {
		a, err := p.Next(t.Context())
		if err != nil {
			return got, err
		}
		if a.N != len(got)+1 {
			t.Fatalf("attempt numbered %d, want %d", a.N, len(got)+1)
		}
		got = append(got, gotAttempt(a))
		if len(got) > len(outcomes) {
			t.Fatalf("attempt %d (%v) was planned but the test has no outcome for it", len(got), got[len(got)-1])
		}
		out := outcomes[len(got)-1]
		p.Done(a, out)
		if out == nil {
			return got, nil
		}
	}
}

func TestPlanAttempts(t *testing.T) {
	a, b := "a", "b"
	tests := []struct {
		name     string
		model    string
		max      int
		deadline time.Duration // 0: none
		outcomes []error
		want     []wantAttempt
		// wantErr checks the error that ended the plan; nil means success.
		wantErr func(error) bool
	}{
		{
			name: "success at once", model: "pair", max: 3,
			outcomes: []error{nil},
			want:     []wantAttempt{{channel: a, model: "pair"}},
		},
		{
			name: "server error retried on the only channel after a backoff", model: "solo", max: 3,
			outcomes: []error{statusErr(a, 500, "", 0), nil},
			want:     []wantAttempt{{channel: a, model: "solo"}, {channel: a, model: "solo", retry: true, waited: 50 * time.Millisecond}},
		},
		{
			name: "reset fails over to an untried channel at once", model: "pair", max: 3,
			outcomes: []error{resetErr(a), nil},
			want:     []wantAttempt{{channel: a, model: "pair"}, {channel: b, model: "pair"}},
		},
		{
			name: "failover first, then retries in priority order with growing backoff", model: "pair", max: 4,
			outcomes: []error{statusErr(a, 503, "", 0), statusErr(b, 503, "", 0), statusErr(a, 503, "", 0), statusErr(b, 503, "", 0)},
			want: []wantAttempt{{channel: a, model: "pair"}, {channel: b, model: "pair"},
				{channel: a, model: "pair", retry: true, waited: 100 * time.Millisecond},
				{channel: b, model: "pair", retry: true, waited: 200 * time.Millisecond}},
			wantErr: isStatus(503),
		},
		{
			name: "Retry-After is waited out before retrying the same channel", model: "solo", max: 3, deadline: 2 * time.Second,
			outcomes: []error{statusErr(a, 429, "", 300*time.Millisecond), nil},
			want:     []wantAttempt{{channel: a, model: "solo"}, {channel: a, model: "solo", retry: true, waited: 300 * time.Millisecond}},
		},
		{
			name: "a 503's Retry-After is waited out too", model: "solo", max: 3, deadline: 2 * time.Second,
			outcomes: []error{statusErr(a, 503, "", 300*time.Millisecond), nil},
			want:     []wantAttempt{{channel: a, model: "solo"}, {channel: a, model: "solo", retry: true, waited: 300 * time.Millisecond}},
		},
		{
			name: "Retry-After beyond the deadline fails over at once", model: "pair", max: 3, deadline: time.Second,
			outcomes: []error{statusErr(a, 429, "", 5*time.Second), nil},
			want:     []wantAttempt{{channel: a, model: "pair"}, {channel: b, model: "pair"}},
		},
		{
			name: "Retry-After beyond the deadline with nowhere to go returns the 429", model: "solo", max: 3, deadline: time.Second,
			outcomes: []error{statusErr(a, 429, "", 5*time.Second)},
			want:     []wantAttempt{{channel: a, model: "solo"}},
			wantErr:  func(err error) bool { return isStatus(429)(err) && retryAfter(err) == 5*time.Second },
		},
		{
			name: "a timed-out route is never tried again", model: "pair", max: 4,
			outcomes: []error{timeoutErr(a), statusErr(b, 500, "", 0), nil},
			want: []wantAttempt{{channel: a, model: "pair"}, {channel: b, model: "pair"},
				{channel: b, model: "pair", retry: true, waited: 100 * time.Millisecond}},
		},
		{
			name: "a timeout on the only route ends the plan", model: "solo", max: 3,
			outcomes: []error{timeoutErr(a)},
			want:     []wantAttempt{{channel: a, model: "solo"}},
			wantErr:  func(err error) bool { return Classify(err) == ClassTimeout },
		},
		{
			name: "a deterministic 400 is neither retried nor failed over", model: "pair", max: 3,
			outcomes: []error{statusErr(a, 400, "", 0)},
			want:     []wantAttempt{{channel: a, model: "pair"}},
			wantErr:  isStatus(400),
		},
		{
			name: "content filter is returned as is", model: "main", max: 3,
			outcomes: []error{statusErr(a, 400, "content_filter", 0)},
			want:     []wantAttempt{{channel: a, model: "main"}},
			wantErr:  func(err error) bool { return Classify(err) == ClassContentFilter },
		},
		{
			name: "context length goes to the larger fallback at once", model: "small", max: 3,
			outcomes: []error{statusErr(a, 400, "context_length_exceeded", 0), nil},
			want:     []wantAttempt{{channel: a, model: "small"}, {channel: "c", model: "large", fallback: true}},
		},
		{
			name: "context length without a fallback for it is returned, never retried", model: "pair", max: 3,
			outcomes: []error{statusErr(a, 400, "context_length_exceeded", 0)},
			want:     []wantAttempt{{channel: a, model: "pair"}},
			wantErr:  func(err error) bool { return Classify(err) == ClassContextLength },
		},
		{
			name: "rate limit without Retry-After: backoff on the primary, then the fallback whose classes match", model: "main", max: 3,
			outcomes: []error{statusErr(a, 429, "", 0), statusErr(a, 429, "", 0), nil},
			want: []wantAttempt{{channel: a, model: "main"}, {channel: a, model: "main", retry: true, waited: 50 * time.Millisecond},
				{channel: "s", model: "spare", fallback: true}},
		},
		{
			name: "max attempts caps failover, retries and fallbacks together", model: "main", max: 2,
			outcomes: []error{statusErr(a, 500, "", 0), statusErr(a, 500, "", 0)},
			want:     []wantAttempt{{channel: a, model: "main"}, {channel: a, model: "main", retry: true, waited: 50 * time.Millisecond}},
			wantErr:  isStatus(500),
		},
		{
			name: "a canceled attempt ends the plan", model: "pair", max: 3,
			outcomes: []error{canceledErr(a)},
			want:     []wantAttempt{{channel: a, model: "pair"}},
			wantErr:  func(err error) bool { return Classify(err) == ClassCanceled },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, _ := testTable(t, tt.max).Resolve(tt.model)
				x := &Executor{Breaker: newFakeBreaker(), Budget: newFakeBudget(), Rand: func() float64 { return 0.5 }}
				start := time.Now()
				var deadline time.Time
				if tt.deadline > 0 {
					deadline = start.Add(tt.deadline)
				}
				p := x.NewPlan(m, "chat", deadline)
				got, err := runPlan(t, p, tt.outcomes)
				if !slices.Equal(got, tt.want) {
					t.Errorf("attempts:\n got %v\nwant %v", got, tt.want)
				}
				switch {
				case tt.wantErr == nil && err != nil:
					t.Errorf("plan ended with %v, want success", err)
				case tt.wantErr != nil && (err == nil || !tt.wantErr(err)):
					t.Errorf("plan ended with %v, not the expected error", err)
				}
				var waited time.Duration
				for _, a := range got {
					waited += a.waited
				}
				if elapsed := time.Since(start); elapsed != waited {
					t.Errorf("the plan took %v, want exactly its waits %v", elapsed, waited)
				}
				if n := len(p.Records()); n != len(got) || n > tt.max {
					t.Errorf("%d records for %d attempts (max %d)", n, len(got), tt.max)
				}
			})
		})
	}
}

func isStatus(status int) func(error) bool {
	return func(err error) bool {
		var pe *provider.Error
		return errors.As(err, &pe) && pe.Kind == provider.KindStatus && pe.Status == status
	}
}

func TestPlanCircuitBreaker(t *testing.T) {
	tests := []struct {
		name     string
		model    string
		open     map[string]time.Duration // circuit key -> open for
		outcomes []error
		want     []wantAttempt
		wantErr  func(error) bool
		// wantCalls are breaker calls that must appear, in order.
		wantCalls []string
	}{
		{
			name: "an open channel is skipped without spending an attempt", model: "pair",
			open:      map[string]time.Duration{"a/up": time.Second},
			outcomes:  []error{nil},
			want:      []wantAttempt{{channel: "b", model: "pair"}},
			wantCalls: []string{"refuse a/up", "success b/up probe=false"},
		},
		{
			name: "an open only channel sends the request to the fallback as its first attempt", model: "main",
			open:     map[string]time.Duration{"a/up": time.Second},
			outcomes: []error{nil},
			want:     []wantAttempt{{channel: "s", model: "spare", fallback: true}},
		},
		{
			name: "every channel open: no attempt, a NoTargetError with the soonest reopening", model: "pair",
			open: map[string]time.Duration{"a/up": 3 * time.Second, "b/up": time.Second},
			wantErr: func(err error) bool {
				var nt *NoTargetError
				return errors.As(err, &nt) && nt.RetryIn == time.Second && !nt.RateLimited && nt.Model == "pair"
			},
		},
		{
			name: "a failure counts against the channel, a success for it", model: "pair",
			outcomes:  []error{statusErr("a", 500, "", 0), nil},
			want:      []wantAttempt{{channel: "a", model: "pair"}, {channel: "b", model: "pair"}},
			wantCalls: []string{"failure a/up probe=false", "success b/up probe=false"},
		},
		{
			name: "a 429 with Retry-After cools the channel for that long", model: "pair",
			outcomes:  []error{statusErr("a", 429, "", 2*time.Second), nil},
			want:      []wantAttempt{{channel: "a", model: "pair"}, {channel: "b", model: "pair"}},
			wantCalls: []string{"release a/up probe=false", "cooldown a/up 2s", "success b/up probe=false"},
		},
		{
			name: "a bad request does not count against the channel", model: "pair",
			outcomes:  []error{statusErr("a", 400, "", 0)},
			want:      []wantAttempt{{channel: "a", model: "pair"}},
			wantErr:   isStatus(400),
			wantCalls: []string{"success a/up probe=false"},
		},
		{
			name: "a canceled attempt releases without a verdict", model: "pair",
			outcomes:  []error{canceledErr("a")},
			want:      []wantAttempt{{channel: "a", model: "pair"}},
			wantErr:   func(err error) bool { return Classify(err) == ClassCanceled },
			wantCalls: []string{"release a/up probe=false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, _ := testTable(t, 3).Resolve(tt.model)
				br := newFakeBreaker()
				for k, d := range tt.open {
					br.open(k, d)
				}
				x := &Executor{Breaker: br, Budget: newFakeBudget(), Rand: func() float64 { return 0.5 }}
				p := x.NewPlan(m, "chat", time.Time{})
				got, err := runPlan(t, p, tt.outcomes)
				if !slices.Equal(got, tt.want) {
					t.Errorf("attempts:\n got %v\nwant %v", got, tt.want)
				}
				if (tt.wantErr == nil) != (err == nil) || (err != nil && !tt.wantErr(err)) {
					t.Errorf("plan ended with %v", err)
				}
				if !subsequence(br.log(), tt.wantCalls) {
					t.Errorf("breaker calls %q, want %q among them in order", br.log(), tt.wantCalls)
				}
			})
		})
	}
}

// subsequence reports whether want appears in got in order.
func subsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestPlanRateLimitedChannelAnswers429 checks that once an upstream 429
// with Retry-After has cooled the only channel, the next request is not
// sent at all and learns when to come back.
func TestPlanRateLimitedChannelAnswers429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := testTable(t, 3).Resolve("solo")
		x := &Executor{Breaker: newFakeBreaker(), Budget: newFakeBudget(), Rand: func() float64 { return 0.5 }}
		first := x.NewPlan(m, "chat", time.Now().Add(time.Second))
		if _, err := runPlan(t, first, []error{statusErr("a", 429, "", 5*time.Second)}); !isStatus(429)(err) {
			t.Fatalf("first request ended with %v, want the upstream 429", err)
		}
		time.Sleep(time.Second) // fake time: the cooldown has 4s left
		second := x.NewPlan(m, "chat", time.Now().Add(time.Second))
		got, err := runPlan(t, second, nil)
		var nt *NoTargetError
		if len(got) != 0 || !errors.As(err, &nt) || !nt.RateLimited || nt.RetryIn != 4*time.Second {
			t.Fatalf("second request: attempts %v, error %#v; want none and a rate-limited NoTargetError retrying in 4s", got, err)
		}
	})
}

// TestPlanRetryBudget checks what the retry budget bounds: repeats into a
// channel. A failover to a channel the request has not tried is a first
// attempt there, and a channel over its budget is not repeated.
func TestPlanRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := testTable(t, 4).Resolve("pair")
		bu := newFakeBudget("a")
		x := &Executor{Breaker: newFakeBreaker(), Budget: bu, Rand: func() float64 { return 0.5 }}
		p := x.NewPlan(m, "chat", time.Time{})
		got, err := runPlan(t, p, []error{statusErr("a", 500, "", 0), statusErr("b", 500, "", 0), nil})
		// a is over its budget, so after both fail the retry goes to b.
		want := []wantAttempt{{channel: "a", model: "pair"}, {channel: "b", model: "pair"},
			{channel: "b", model: "pair", retry: true, waited: 100 * time.Millisecond}}
		if !slices.Equal(got, want) || err != nil {
			t.Fatalf("attempts %v, error %v; want %v and success", got, err, want)
		}
		if bu.requests["a"] != 1 || bu.requests["b"] != 1 || bu.retries["a"] != 0 || bu.retries["b"] != 1 {
			t.Errorf("budget saw first attempts %v and retries %v; want a first attempt on each and one retry on b", bu.requests, bu.retries)
		}
	})
}

func TestPlanWeightedChoice(t *testing.T) {
	tbl, err := New([]Model{{Name: "w", Targets: []Target{
		{Channel: "heavy", Weight: 3}, {Channel: "light", Weight: 1}, {Channel: "backup", Weight: 10, Priority: 1},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tbl.Resolve("w")
	tests := []struct {
		r    float64
		want string
	}{{0, "heavy"}, {0.74, "heavy"}, {0.75, "light"}, {0.99, "light"}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.r), func(t *testing.T) {
			x := &Executor{Rand: func() float64 { return tt.r }}
			a, err := x.NewPlan(m, "chat", time.Time{}).Next(t.Context())
			if err != nil || a.Target.Channel != tt.want {
				t.Fatalf("Rand %v picked %q (%v), want %q", tt.r, a.Target.Channel, err, tt.want)
			}
		})
	}
}

// TestPlanWaitEndsWithContext checks that a backoff wait ends when the
// request's context does, with its cause, and plans no attempt.
func TestPlanWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := testTable(t, 3).Resolve("solo")
		x := &Executor{Rand: func() float64 { return 0.5 }}
		p := x.NewPlan(m, "chat", time.Time{})
		a, err := p.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p.Done(a, statusErr("a", 429, "", 10*time.Second))
		cause := errors.New("total timeout")
		ctx, cancel := context.WithTimeoutCause(t.Context(), time.Second, cause)
		defer cancel()
		start := time.Now()
		if _, err := p.Next(ctx); !errors.Is(err, cause) {
			t.Fatalf("Next = %v, want the context's cause", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v, want the 1s until the context ended", waited)
		}
		if n := len(p.Records()); n != 1 {
			t.Errorf("%d records, want 1", n)
		}
	})
}

// TestPlanAgain checks the extra attempt a continuation may make on the
// same channel: it counts against the maximum.
func TestPlanAgain(t *testing.T) {
	m, _ := testTable(t, 2).Resolve("solo")
	p := (&Executor{}).NewPlan(m, "chat", time.Time{})
	a, err := p.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p.Done(a, statusErr("a", 400, "prefill_unsupported", 0))
	again, ok := p.Again(a)
	if !ok || again.N != 2 || !again.Retry || again.Target.Channel != "a" {
		t.Fatalf("Again = %+v, %v; want attempt 2 on a", again, ok)
	}
	p.Done(again, statusErr("a", 500, "", 0))
	if _, ok := p.Again(again); ok {
		t.Fatal("Again went past MaxAttempts")
	}
	if _, err := p.Next(t.Context()); err == nil {
		t.Fatal("Next planned an attempt past MaxAttempts")
	}
}
