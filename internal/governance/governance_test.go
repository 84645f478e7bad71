package governance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/store"
)

// describe renders an admission's counters as "scope dimension limit kind".
func describe(a *Admission) []string {
	out := make([]string, len(a.dims))
	for i, d := range a.dims {
		out[i] = fmt.Sprintf("%s %s %d %s", d.scope, d.name, a.limits[i].Limit, a.limits[i].Kind)
	}
	return out
}

func TestLimitsPerScope(t *testing.T) {
	gold := store.Group{Name: "gold", Limits: store.Limits{RPM: 100, TPM: 10_000, Concurrency: 4, DailyRequests: 50, MonthlyBudget: 9000}}
	tests := []struct {
		name   string
		key    store.Limits
		group  string
		owner  string
		opts   Options
		credit store.Money
		want   []string
	}{
		{name: "no limits at all", want: []string{}},
		{name: "key rates", key: store.Limits{RPM: 60, TPM: 1000, Concurrency: 2},
			want: []string{"key RPM 60 rate", "key TPM 1000 rate", "key concurrency 2 concurrency"}},
		{name: "key inherits the group's defaults", group: "gold",
			want: []string{"key RPM 100 rate", "key TPM 10000 rate", "key concurrency 4 concurrency",
				"group RPM 100 rate", "group TPM 10000 rate", "group concurrency 4 concurrency",
				"key daily requests 50 quota", "group monthly budget 9000 quota"}},
		{name: "key tightens the group", group: "gold", key: store.Limits{RPM: 30, Concurrency: 1, DailyRequests: 10, MonthlyBudget: 500},
			want: []string{"key RPM 30 rate", "key TPM 10000 rate", "key concurrency 1 concurrency",
				"group RPM 100 rate", "group TPM 10000 rate", "group concurrency 4 concurrency",
				"key daily requests 10 quota", "key monthly budget 500 quota", "group monthly budget 9000 quota"}},
		{name: "key cannot loosen the group", group: "gold", key: store.Limits{RPM: 1000, TPM: 99_999, Concurrency: 40, DailyRequests: 500},
			want: []string{"key RPM 100 rate", "key TPM 10000 rate", "key concurrency 4 concurrency",
				"group RPM 100 rate", "group TPM 10000 rate", "group concurrency 4 concurrency",
				"key daily requests 50 quota", "group monthly budget 9000 quota"}},
		{name: "unknown group applies nothing", group: "missing", key: store.Limits{RPM: 5}, want: []string{"key RPM 5 rate"}},
		{name: "model and global", opts: Options{Models: map[string]store.Limits{"m": {RPM: 10}, "other": {RPM: 1}}, Global: store.Limits{TPM: 50_000, Concurrency: 8}},
			want: []string{"model RPM 10 rate", "global TPM 50000 rate", "global concurrency 8 concurrency"}},
		{name: "daily quotas", key: store.Limits{DailyRequests: 5, DailyTokens: 7000, DailyCost: 3000},
			want: []string{"key daily requests 5 quota", "key daily tokens 7000 quota", "key daily cost 3000 quota"}},
		{name: "owner balance", owner: "acme", credit: 12345, want: []string{"owner balance 12345 balance"}},
		{name: "owner without credits has no balance", owner: "nobody", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Groups = groups{"gold": gold}
			if tt.credit != 0 {
				opts.Credits = creditCache(t, store.Credit{Owner: tt.owner, Amount: tt.credit})
			}
			e, _ := newEngine(t, opts)
			p := principal(tt.key)
			p.Group, p.Owner = tt.group, tt.owner
			a := admit(t, e, Request{Principal: p, Model: "m", PromptTokens: 10, MaxTokens: 20})
			if got := describe(a); strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("limits =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if err := ratelimit.Validate(a.limits); err != nil {
				t.Errorf("limits are not valid: %v", err)
			}
		})
	}
}

// TestCounterKeys checks that counters are named per scope, so two keys
// of one group share the group's counters and nothing else.
func TestCounterKeys(t *testing.T) {
	gold := store.Group{Name: "gold", Limits: store.Limits{RPM: 2}}
	e, _ := newEngine(t, Options{Groups: groups{"gold": gold}})
	a, b := principal(store.Limits{}), principal(store.Limits{})
	a.Group, b.Group = "gold", "gold"
	b.KeyID = "key_fedcba9876543210"
	admit(t, e, Request{Principal: a, Model: "m"})
	admit(t, e, Request{Principal: b, Model: "m"})
	// Each key has used 1 of its own 2, but the group's 2 are gone.
	le := refuse(t, e, Request{Principal: a, Model: "m"})
	if le.Scope != ScopeGroup || le.Dimension != DimRPM {
		t.Errorf("third request refused by %s %s, want group RPM", le.Scope, le.Dimension)
	}
}

func TestRefusalNamesTheLimit(t *testing.T) {
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", InputPerM: 1_000_000, OutputPerM: 1_000_000}})
	req := func(l store.Limits) Request {
		return Request{Principal: principal(l), Model: "m", PromptTokens: 10, MaxTokens: 90} // 100 tokens, cost 100
	}
	tests := []struct {
		name     string
		opts     Options
		req      Request
		owner    string
		credit   store.Money
		admitted int
		want     LimitError
	}{
		{name: "key RPM", req: req(store.Limits{RPM: 2}), admitted: 2,
			want: LimitError{Scope: ScopeKey, Dimension: DimRPM, Limit: 2, RetryAfter: 30 * time.Second, ResetAt: start.Add(30 * time.Second)}},
		{name: "key TPM", req: req(store.Limits{TPM: 250}), admitted: 2,
			// 200 of 250 taken; 100 more need 50 to drain, at 60s/250 per token.
			want: LimitError{Scope: ScopeKey, Dimension: DimTPM, Limit: 250, RetryAfter: 12 * time.Second, ResetAt: start.Add(12 * time.Second), Remaining: 50}},
		{name: "key concurrency", req: req(store.Limits{Concurrency: 3}), admitted: 3,
			want: LimitError{Scope: ScopeKey, Dimension: DimConcurrency, Limit: 3}},
		{name: "model RPM", opts: Options{Models: map[string]store.Limits{"m": {RPM: 1}}}, req: req(store.Limits{}), admitted: 1,
			want: LimitError{Scope: ScopeModel, Dimension: DimRPM, Limit: 1, RetryAfter: time.Minute, ResetAt: start.Add(time.Minute)}},
		{name: "global concurrency", opts: Options{Global: store.Limits{Concurrency: 1}}, req: req(store.Limits{}), admitted: 1,
			want: LimitError{Scope: ScopeGlobal, Dimension: DimConcurrency, Limit: 1}},
		{name: "daily tokens", req: req(store.Limits{DailyTokens: 250}), admitted: 2,
			want: LimitError{Scope: ScopeKey, Dimension: DimDailyTokens, Limit: 250, RetryAfter: 12 * time.Hour,
				ResetAt: time.Date(2025, 6, 19, 0, 0, 0, 0, time.UTC), Remaining: 50}},
		{name: "daily cost", req: req(store.Limits{DailyCost: 250}), admitted: 2,
			want: LimitError{Scope: ScopeKey, Dimension: DimDailyCost, Limit: 250, RetryAfter: 12 * time.Hour,
				ResetAt: time.Date(2025, 6, 19, 0, 0, 0, 0, time.UTC), Remaining: 50}},
		{name: "monthly budget", req: req(store.Limits{MonthlyBudget: 250}), admitted: 2,
			want: LimitError{Scope: ScopeKey, Dimension: DimMonthlyBudget, Limit: 250, RetryAfter: 12*24*time.Hour + 12*time.Hour,
				ResetAt: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), Remaining: 50}},
		{name: "owner balance", req: req(store.Limits{}), owner: "acme", credit: 250, admitted: 2,
			want: LimitError{Scope: ScopeOwner, Dimension: DimBalance, Limit: 250, Remaining: 50, Owner: "acme"}},
		{name: "a request larger than the whole TPM limit", req: req(store.Limits{TPM: 99}), admitted: 0,
			want: LimitError{Scope: ScopeKey, Dimension: DimTPM, Limit: 99, TooLarge: true, Remaining: 99, ResetAt: start}},
		{name: "a request larger than the whole budget", req: req(store.Limits{MonthlyBudget: 99}), admitted: 0,
			want: LimitError{Scope: ScopeKey, Dimension: DimMonthlyBudget, Limit: 99, TooLarge: true, Remaining: 99,
				ResetAt: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Prices = prices
			if tt.credit != 0 {
				opts.Credits = creditCache(t, store.Credit{Owner: tt.owner, Amount: tt.credit})
			}
			e, _ := newEngine(t, opts)
			r := tt.req
			r.Principal.Owner = tt.owner
			for range tt.admitted {
				admit(t, e, r) // held: never settled
			}
			le := refuse(t, e, r)
			got, want := *le, tt.want
			if !got.ResetAt.Equal(want.ResetAt) {
				t.Errorf("ResetAt = %s, want %s", got.ResetAt, want.ResetAt)
			}
			got.ResetAt, want.ResetAt = time.Time{}, time.Time{}
			if got != want {
				t.Errorf("refusal =\n  %+v\nwant\n  %+v", *le, tt.want)
			}
			if want := fmt.Sprintf("%s %s %d exceeded", tt.want.Scope, tt.want.Dimension, tt.want.Limit); le.Error() != want {
				t.Errorf("Error() = %q, want %q", le.Error(), want)
			}
		})
	}
}

// TestSeededBudgetRefusalIsNotTooLarge: a monthly budget partly spent
// before this process started refuses a request that fits the budget but
// not what is left as "budget spent", not as a request that can never be
// admitted.
func TestSeededBudgetRefusalIsNotTooLarge(t *testing.T) {
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", OutputPerM: 1_000_000}})
	for _, spent := range []store.Money{900, 1000, 1200} {
		t.Run(fmt.Sprint("spent ", spent), func(t *testing.T) {
			sp := &fakeSpend{key: map[string]store.Money{"key_0123456789abcdef": spent}}
			e, _ := newEngine(t, Options{Prices: prices, Spend: sp})
			le := refuse(t, e, Request{Principal: principal(store.Limits{MonthlyBudget: 1000}), Model: "m", MaxTokens: 150})
			if le.TooLarge || le.Dimension != DimMonthlyBudget || le.Limit != 1000 || le.Remaining != int64(max(1000-spent, 0)) {
				t.Errorf("refusal = %+v, want monthly budget 1000 spent (remaining %d), not too large", le, max(1000-spent, 0))
			}
		})
	}
}

func TestSettle(t *testing.T) {
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", InputPerM: 2_000_000, CachedInputPerM: 1_000_000, OutputPerM: 4_000_000}})
	limits := store.Limits{RPM: 10, TPM: 1000, Concurrency: 1, DailyRequests: 5, DailyTokens: 1000, DailyCost: 2000, MonthlyBudget: 2000}
	// The estimate: 100 prompt tokens at 2 plus 300 completion at 4 = 1400.
	req := Request{Principal: principal(limits), Model: "m", PromptTokens: 100, MaxTokens: 300}
	used := Usage{PromptTokens: 80, CachedTokens: 20, CompletionTokens: 50} // 60*2 + 20*1 + 50*4 = 340
	tests := []struct {
		name        string
		served      bool
		wantCost    store.Money
		wantCharged bool
		// remaining per counter after settling, in describe's order
		wantRemaining []int64
	}{
		{name: "served: charged the actual cost", served: true, wantCost: 340, wantCharged: true,
			// RPM keeps the request; TPM and daily tokens hold 130 tokens;
			// cost counters hold 340.
			wantRemaining: []int64{9, 870, 1, 4, 870, 1660, 1660}},
		{name: "failed: nothing charged, everything released", served: false, wantCost: 0, wantCharged: false,
			wantRemaining: []int64{10, 1000, 1, 5, 1000, 2000, 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := &flakyLimiter{}
			e, _ := newEngine(t, Options{Prices: prices})
			mem.inner = e.opts.Limiter
			e.opts.Limiter = mem
			a := admit(t, e, req)
			if a.estCost != 1400 || a.estTokens != 400 {
				t.Fatalf("estimate = %d units, %d tokens; want 1400, 400", a.estCost, a.estTokens)
			}
			cost, charged := a.Settle(t.Context(), used, tt.served)
			if cost != tt.wantCost || charged != tt.wantCharged {
				t.Errorf("Settle = %d, %v; want %d, %v", cost, charged, tt.wantCost, tt.wantCharged)
			}
			if cost, charged := a.Settle(t.Context(), used, tt.served); cost != 0 || charged {
				t.Errorf("second Settle = %d, %v; want 0, false", cost, charged)
			}
			if n := mem.settles.Load(); n != 1 {
				t.Errorf("limiter settled %d times, want 1", n)
			}
			// Look at the counters with a free probe request at the same instant.
			probe := admit(t, e, Request{Principal: principal(limits), Model: "free", MaxTokens: 1})
			var got []int64
			for i, d := range probe.dims {
				st := probe.decision.States[i]
				rem := st.Remaining
				if d.unit != unitMoney {
					rem++ // the probe's own request, or its one token
				}
				got = append(got, rem)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantRemaining) {
				t.Errorf("remaining after settle = %v, want %v (%s)", got, tt.wantRemaining, strings.Join(describe(probe), "; "))
			}
		})
	}
}

// TestSettleWithoutLimits: a request with no counters still has its cost
// computed, and settling the nil Admission (no governor) does nothing.
func TestSettleWithoutLimits(t *testing.T) {
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", OutputPerM: 1_000_000}})
	e, _ := newEngine(t, Options{Prices: prices, Groups: groups{"half": {Name: "half", PriceMultiplierPPM: 500_000}}})
	p := principal(store.Limits{})
	p.Group = "half"
	a := admit(t, e, Request{Principal: p, Model: "m"})
	if cost, charged := a.Settle(t.Context(), Usage{CompletionTokens: 1001}, true); cost != 500 || !charged {
		t.Errorf("Settle = %d, %v; want 500 (the group's multiplier, rounded down), true", cost, charged)
	}
	var none *Admission
	if cost, charged := none.Settle(t.Context(), Usage{CompletionTokens: 1}, true); cost != 0 || charged {
		t.Errorf("nil Settle = %d, %v", cost, charged)
	}
	none.RateHeaders(http.Header{})
}

func TestDefaultMaxTokensEstimate(t *testing.T) {
	for _, tt := range []struct {
		name     string
		def, max int64
		want     int64
	}{
		{"engine default 1024", 0, 0, 10 + 1024},
		{"configured default", 50, 0, 10 + 50},
		{"the request's own max tokens", 50, 7, 10 + 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine(t, Options{DefaultMaxTokens: tt.def})
			a := admit(t, e, Request{Principal: principal(store.Limits{TPM: 10_000}), Model: "m", PromptTokens: 10, MaxTokens: tt.max})
			if a.estTokens != tt.want || a.limits[0].Cost != tt.want {
				t.Errorf("estimate %d tokens, TPM cost %d; want %d", a.estTokens, a.limits[0].Cost, tt.want)
			}
		})
	}
}

func TestRateHeaders(t *testing.T) {
	e, _ := newEngine(t, Options{Groups: groups{"g": {Name: "g", Limits: store.Limits{RPM: 600}}}})
	p := principal(store.Limits{RPM: 60, TPM: 6000})
	p.Group = "g"
	a := admit(t, e, Request{Principal: p, Model: "m", PromptTokens: 100, MaxTokens: 200})
	h := http.Header{}
	a.RateHeaders(h)
	want := map[string]string{
		// The key's own limits, not the group's.
		"X-Ratelimit-Limit-Requests":     "60",
		"X-Ratelimit-Remaining-Requests": "59",
		"X-Ratelimit-Reset-Requests":     "1s",
		"X-Ratelimit-Limit-Tokens":       "6000",
		"X-Ratelimit-Remaining-Tokens":   "5700",
		"X-Ratelimit-Reset-Tokens":       "3s",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {-time.Second, "0s"}, {1, "1ms"}, {12 * time.Millisecond, "12ms"}, {999_999_999, "1000ms"},
		{time.Second, "1s"}, {6 * time.Minute, "6m0s"}, {1500 * time.Millisecond, "1.5s"}} {
		if got := formatReset(tt.d); got != tt.want {
			t.Errorf("formatReset(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestGroupModels(t *testing.T) {
	e, _ := newEngine(t, Options{Groups: groups{"embed-only": {Name: "embed-only", Models: []string{"text-embedding-*"}}}})
	p := principal(store.Limits{})
	p.Group = "embed-only"
	if _, err := e.Admit(t.Context(), Request{Principal: p, Model: "gpt-4o"}); !errors.Is(err, ErrGroupModel) {
		t.Errorf("model outside the group: %v, want ErrGroupModel", err)
	}
	admit(t, e, Request{Principal: p, Model: "text-embedding-3-small"})
	p.Group = ""
	admit(t, e, Request{Principal: p, Model: "gpt-4o"})
}

// logBuffer captures an engine's log lines.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func TestLimiterUnreachable(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		t.Run(fmt.Sprint("fail open ", failOpen), func(t *testing.T) {
			prices := &PriceTable{}
			prices.Set(map[string]store.Price{"m": {Model: "m", OutputPerM: 1_000_000}})
			log, buf := logBuffer()
			fl := &flakyLimiter{}
			e, clk := newEngine(t, Options{FailOpen: failOpen, Logger: log, Prices: prices})
			fl.inner, e.opts.Limiter = e.opts.Limiter, fl
			req := Request{Principal: principal(store.Limits{RPM: 1}), Model: "m", MaxTokens: 10}
			fl.broken.Store(true)
			for range 3 {
				a, err := e.Admit(t.Context(), req)
				switch {
				case failOpen && err != nil:
					t.Fatalf("fail open: Admit = %v", err)
				case failOpen:
					// Admitted without counters: charged, but nothing to settle.
					if cost, charged := a.Settle(t.Context(), Usage{CompletionTokens: 10}, true); cost != 10 || !charged {
						t.Errorf("Settle = %d, %v; want 10, true", cost, charged)
					}
				case !errors.Is(err, ErrUnavailable) || !errors.Is(err, errDown):
					t.Fatalf("fail closed: Admit = %v, %v; want ErrUnavailable wrapping the cause", a, err)
				}
			}
			if n := fl.settles.Load(); n != 0 {
				t.Errorf("%d settles on a down limiter, want 0", n)
			}
			if n := strings.Count(buf.String(), "limits backend unreachable"); n != 1 {
				t.Errorf("outage logged %d times, want once:\n%s", n, buf)
			}
			// Recovery: the limiter answers again and enforces its limit.
			fl.broken.Store(false)
			clk.Advance(time.Hour)
			admit(t, e, req)
			refuse(t, e, req)
			if !strings.Contains(buf.String(), "limits backend reachable again") {
				t.Errorf("recovery not logged:\n%s", buf)
			}
		})
	}
}

// TestAdmitCancelled: a client that goes away is not a backend outage.
func TestAdmitCancelled(t *testing.T) {
	log, buf := logBuffer()
	e, _ := newEngine(t, Options{Logger: log})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := e.Admit(ctx, Request{Principal: principal(store.Limits{RPM: 1}), Model: "m"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Admit = %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Errorf("a cancelled request logged an outage:\n%s", buf)
	}
}

func TestSeedMoneyCounters(t *testing.T) {
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", OutputPerM: 1_000_000}})
	const keyID = "key_0123456789abcdef"
	sp := &fakeSpend{
		key:   map[string]store.Money{keyID: 700},
		group: map[string]store.Money{"g": 100},
		owner: map[string]store.Money{"acme": 50},
	}
	e, clk := newEngine(t, Options{
		Prices: prices, Spend: sp,
		Groups:  groups{"g": {Name: "g", Limits: store.Limits{MonthlyBudget: 5000}}},
		Credits: creditCache(t, store.Credit{Owner: "acme", Amount: 5000}),
	})
	p := principal(store.Limits{MonthlyBudget: 1000, DailyCost: 5000})
	p.Group, p.Owner = "g", "acme"
	req := Request{Principal: p, Model: "m", MaxTokens: 100}
	// The key's month had 700 spent before: 3 requests of 100 fit.
	for range 3 {
		admit(t, e, req).Settle(t.Context(), Usage{CompletionTokens: 100}, true)
	}
	le := refuse(t, e, req)
	if le.Dimension != DimMonthlyBudget || le.Scope != ScopeKey || le.Remaining != 0 {
		t.Errorf("refusal = %+v, want the key's monthly budget with nothing left", le)
	}
	want := map[string]int{"key:" + keyID: 2, "group:g": 1, "owner:acme": 1} // key: daily cost and monthly budget
	if fmt.Sprint(sp.calls) != fmt.Sprint(want) {
		t.Errorf("spend read %v, want once per counter %v", sp.calls, want)
	}
	dayStart := time.Date(2025, 6, 18, 0, 0, 0, 0, time.UTC)
	monthStart := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	if len(sp.sinces) != 3 || !sp.sinces[0].Equal(dayStart) || !sp.sinces[1].Equal(monthStart) || !sp.sinces[2].Equal(monthStart) {
		t.Errorf("spend read since %v, want the day's start then the month's (key, group)", sp.sinces)
	}
	// A new day is a new daily counter: read once more; the month's are not.
	clk.Advance(24 * time.Hour)
	refuse(t, e, req)
	if sp.calls["key:"+keyID] != 3 || sp.calls["group:g"] != 1 {
		t.Errorf("after a day, spend read %v; want the new day's counter only", sp.calls)
	}
	// A failing store read refuses with an error, not a decision.
	sp.fail = errors.New("database is locked")
	clk.Advance(24 * time.Hour)
	if _, err := e.Admit(t.Context(), req); err == nil || !errors.Is(err, sp.fail) {
		t.Errorf("Admit with a failing spend read = %v, want it wrapped", err)
	}
}

// TestBalanceTopUp: a top-up seen by the credit cache raises the owner's
// balance at once.
func TestBalanceTopUp(t *testing.T) {
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", OutputPerM: 1_000_000}})
	ledger := credits{{Owner: "acme", Amount: 150, Rev: 1}}
	cc := NewCreditCache(&ledger, time.Hour, nil)
	if err := cc.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	e, _ := newEngine(t, Options{Prices: prices, Credits: cc})
	p := principal(store.Limits{})
	p.Owner = "acme"
	req := Request{Principal: p, Model: "m", MaxTokens: 100}
	admit(t, e, req).Settle(t.Context(), Usage{CompletionTokens: 100}, true)
	le := refuse(t, e, req)
	if le.Dimension != DimBalance || le.Remaining != 50 || le.Owner != "acme" {
		t.Errorf("refusal = %+v, want balance 50 of acme", le)
	}
	ledger = append(ledger, store.Credit{Owner: "acme", Amount: 100, Rev: 2})
	if err := cc.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := cc.Credited("acme"); got != 250 {
		t.Fatalf("credited = %d, want 250", got)
	}
	admit(t, e, req)
}
