package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on machines without a zoneinfo database

	"github.com/tollgate/tollgate/internal/servicetest"
	"github.com/tollgate/tollgate/internal/store"
)

// govConfig is a gateway with prices and quota days at 06:00 New York.
// sim-chat answers exactly 10 completion tokens and requests without
// max_tokens are estimated at 10, and its prompt is free: a sim-chat
// request's estimate is its actual cost, 10 tokens at 10 per million =
// 100 micro-units. sim-priced has awkward prices, so its cost has
// fractions to round. %s adds settings under limits.
const govConfig = `
database: {path: ":memory:"}
request_log: {flush_interval: 10ms}
upstream:
  retry: {max_attempts: 1}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
limits:
  default_max_tokens: 10
  day_start: "06:00"
  time_zone: America/New_York
%s
prices:
  sim-chat:   {input: "0", output: "10"}
  sim-slow:   {input: "0", output: "10"}
  sim-priced: {input: "0.15", output: "0.6"}
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {length: 10}
      models:
        sim-slow: {latency: 20ms, length: 10}
        sim-500:  {fault: {kind: status, status: 500}}
models:
  - {name: sim-chat,   routes: [{channel: sim}]}
  - {name: sim-slow,   routes: [{channel: sim}]}
  - {name: sim-priced, routes: [{channel: sim}]}
  - {name: sim-embed,  routes: [{channel: sim}]}
  - {name: sim-500,    routes: [{channel: sim}]}
`

// chatCost is what one sim-chat or sim-slow request costs.
const chatCost store.Money = 100

// limitBody is a 429/402/403 answer from tollgate.
type limitBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
		ResetAt string  `json:"resetAt"`
	} `json:"error"`
}

func decodeLimit(t *testing.T, b []byte) limitBody {
	t.Helper()
	var lb limitBody
	if err := json.Unmarshal(b, &lb); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	return lb
}

// checkLimitEnvelope is checkEnvelope for tollgate's limit errors, which
// may add resetAt to the OpenAI error object.
func checkLimitEnvelope(t *testing.T, resp *http.Response, b []byte) {
	t.Helper()
	var env map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	delete(env["error"], "resetAt")
	plain, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, resp, plain)
}

func (lb limitBody) code() string {
	if lb.Error.Code == nil {
		return ""
	}
	return *lb.Error.Code
}

// try POSTs body to the chat endpoint with the key secret.
func (g *gateway) try(secret, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, g.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// call is try that fails the test on a transport error.
func (g *gateway) call(t testing.TB, secret, body string) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := g.try(secret, body)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return resp, b
}

// mustCall sends body and fails unless the answer has status want.
func (g *gateway) mustCall(t testing.TB, secret, body string, want int) (*http.Response, []byte) {
	t.Helper()
	resp, b := g.call(t, secret, body)
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, b)
	}
	return resp, b
}

// uniq returns a name no other run uses, for counters that live in Redis.
func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// keyWithID stores a key shaped like k and returns its secret and ID.
func (g *gateway) keyWithID(t *testing.T, k store.Key) (secret, id string) {
	t.Helper()
	secret = g.newKey(t, k)
	p, err := g.app.Keys.Lookup(secret)
	if err != nil {
		t.Fatal(err)
	}
	return secret, p.KeyID
}

func TestRateLimitHeaders(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	for _, tt := range []struct {
		name string
		body string
	}{
		{"non-stream", chatBody("sim-chat", "hello there", `"max_tokens":40`)},
		{"stream", chatBody("sim-chat", "hello there", `"max_tokens":40,"stream":true`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := g.newKey(t, store.Key{Limits: store.Limits{RPM: 60, TPM: 6000}})
			resp, _ := g.mustCall(t, key, tt.body, http.StatusOK)
			// Estimate: about 4 body bytes per prompt token plus max_tokens.
			est := int64(len(tt.body)/4+1) + 40
			want := map[string]string{
				"x-ratelimit-limit-requests":     "60",
				"x-ratelimit-remaining-requests": "59",
				"x-ratelimit-reset-requests":     "1s", // one emission interval of 60/min
				"x-ratelimit-limit-tokens":       "6000",
				"x-ratelimit-remaining-tokens":   strconv.FormatInt(6000-est, 10),
				"x-ratelimit-reset-tokens":       strconv.FormatInt(est*10, 10) + "ms", // 10ms per token
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			resp, _ = g.mustCall(t, key, tt.body, http.StatusOK)
			if got := resp.Header.Get("x-ratelimit-remaining-requests"); got != "58" {
				t.Errorf("second request: remaining-requests = %q, want 58", got)
			}
		})
	}
	// A key with no limits of its own gets no x-ratelimit headers.
	resp, _ := g.mustCall(t, g.key, chatBody("sim-chat", "hi", ""), http.StatusOK)
	if v := resp.Header.Get("x-ratelimit-limit-requests"); v != "" {
		t.Errorf("unlimited key: x-ratelimit-limit-requests = %q, want none", v)
	}
}

func TestKeyRPMRefusal(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	secret := g.newKey(t, store.Key{Limits: store.Limits{RPM: 2}})
	body := chatBody("sim-chat", "hi", "")
	g.mustCall(t, secret, body, http.StatusOK)
	g.mustCall(t, secret, body, http.StatusOK)
	before := time.Now()
	resp, b := g.mustCall(t, secret, body, http.StatusTooManyRequests)
	after := time.Now()
	checkLimitEnvelope(t, resp, b)
	lb := decodeLimit(t, b)
	if lb.code() != "rate_limit_exceeded" || lb.Error.Type != "requests" {
		t.Errorf("type %q code %q, want requests, rate_limit_exceeded", lb.Error.Type, lb.code())
	}
	for _, s := range []string{"key RPM 2", "a tollgate limit, not the provider's"} {
		if !strings.Contains(lb.Error.Message, s) {
			t.Errorf("message %q does not say %q", lb.Error.Message, s)
		}
	}
	// Two requests of 2 per minute: the next slot opens 30s after the first.
	ms, err := strconv.ParseInt(resp.Header.Get("retry-after-ms"), 10, 64)
	if err != nil || ms <= 29_000 || ms > 30_000 {
		t.Errorf("retry-after-ms = %q, want just under 30000", resp.Header.Get("retry-after-ms"))
	}
	if got, want := resp.Header.Get("Retry-After"), strconv.FormatInt((ms+999)/1000, 10); got != want {
		t.Errorf("Retry-After = %q, want %q (retry-after-ms rounded up to whole seconds)", got, want)
	}
	reset, err := time.Parse(time.RFC3339Nano, lb.Error.ResetAt)
	if err != nil {
		t.Fatalf("resetAt %q is not RFC 3339: %v", lb.Error.ResetAt, err)
	}
	wait := time.Duration(ms) * time.Millisecond
	if reset.Before(before.Add(wait).Add(-time.Millisecond)) || reset.After(after.Add(wait).Add(time.Millisecond)) {
		t.Errorf("resetAt %s is not the answer's time plus retry-after-ms %s (answered between %s and %s)", reset, wait, before, after)
	}
}

// TestRetryAfterIsAccurate: a client that waits exactly retry-after-ms,
// or until resetAt, is admitted, and one that waits half as long is not.
// RPM 120 frees one request every 500ms once its burst of 120 is used.
func TestRetryAfterIsAccurate(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	secret := g.newKey(t, store.Key{Limits: store.Limits{RPM: 120}})
	body := chatBody("sim-chat", "hi", "")
	// Use the burst.
	refused := func() (time.Duration, time.Time) {
		t.Helper()
		for range 200 {
			resp, b := g.call(t, secret, body)
			if resp.StatusCode == http.StatusOK {
				continue
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			ms, err := strconv.ParseInt(resp.Header.Get("retry-after-ms"), 10, 64)
			if err != nil || ms <= 0 || ms > 500 {
				t.Fatalf("retry-after-ms = %q, want 1..500", resp.Header.Get("retry-after-ms"))
			}
			if ra := resp.Header.Get("Retry-After"); ra != "1" {
				t.Errorf("Retry-After = %q, want 1 (whole seconds, rounded up)", ra)
			}
			reset, err := time.Parse(time.RFC3339Nano, decodeLimit(t, b).Error.ResetAt)
			if err != nil {
				t.Fatal(err)
			}
			return time.Duration(ms) * time.Millisecond, reset
		}
		t.Fatal("never refused")
		return 0, time.Time{}
	}
	wait, _ := refused()
	// Half the wait is not enough.
	time.Sleep(wait / 2)
	wait, _ = refused()
	// Exactly the advertised wait is.
	time.Sleep(wait)
	g.mustCall(t, secret, body, http.StatusOK)
	// And so is waiting until resetAt.
	_, reset := refused()
	time.Sleep(time.Until(reset))
	g.mustCall(t, secret, body, http.StatusOK)
}

// nextDayStart is the next 06:00 in New York after now.
func nextDayStart(t *testing.T, now time.Time) time.Time {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	l := now.In(ny)
	next := time.Date(l.Year(), l.Month(), l.Day(), 6, 0, 0, 0, ny)
	if !next.After(l) {
		next = time.Date(l.Year(), l.Month(), l.Day()+1, 6, 0, 0, 0, ny)
	}
	return next
}

func TestQuotaBudgetBalanceRefusals(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	body := chatBody("sim-chat", "hi", "")
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(ny)
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, ny)
	owner := uniq("acme-")
	if _, err := g.app.Store.AddCredit(t.Context(), store.Credit{Owner: owner, Amount: chatCost + chatCost/2}); err != nil {
		t.Fatal(err)
	}
	if err := g.app.Credits.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		key       store.Key
		status    int
		code      string
		resetAt   time.Time
		inMessage []string
	}{
		{"daily request quota", store.Key{Limits: store.Limits{DailyRequests: 1}}, http.StatusTooManyRequests, "daily_quota_exceeded",
			nextDayStart(t, now), []string{"key daily requests 1", "resets at " + nextDayStart(t, now).UTC().Format(time.RFC3339)}},
		{"daily cost quota", store.Key{Limits: store.Limits{DailyCost: chatCost}}, http.StatusTooManyRequests, "daily_quota_exceeded",
			nextDayStart(t, now), []string{"key daily cost 0.0001"}},
		{"monthly budget", store.Key{Limits: store.Limits{MonthlyBudget: chatCost}}, http.StatusTooManyRequests, "budget_exceeded",
			nextMonth, []string{"key monthly budget of 0.0001 is spent", "not the provider's"}},
		{"owner balance", store.Key{Owner: owner}, http.StatusPaymentRequired, "insufficient_balance",
			time.Time{}, []string{fmt.Sprintf("%q", owner), "balance 0.00005", "tollgate credits add " + owner}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := g.newKey(t, tt.key)
			g.mustCall(t, secret, body, http.StatusOK)
			resp, b := g.mustCall(t, secret, body, tt.status)
			checkLimitEnvelope(t, resp, b)
			lb := decodeLimit(t, b)
			if lb.code() != tt.code {
				t.Errorf("code %q, want %q (%s)", lb.code(), tt.code, lb.Error.Message)
			}
			for _, s := range tt.inMessage {
				if !strings.Contains(lb.Error.Message, s) {
					t.Errorf("message %q does not say %q", lb.Error.Message, s)
				}
			}
			if tt.resetAt.IsZero() {
				if lb.Error.ResetAt != "" {
					t.Errorf("resetAt = %q, want none (a balance does not reset)", lb.Error.ResetAt)
				}
			} else if got, err := time.Parse(time.RFC3339Nano, lb.Error.ResetAt); err != nil || !got.Equal(tt.resetAt) {
				t.Errorf("resetAt = %q, want %s", lb.Error.ResetAt, tt.resetAt.UTC().Format(time.RFC3339))
			}
			if resp.Header.Get("x-should-retry") != "false" {
				t.Errorf("x-should-retry = %q, want false", resp.Header.Get("x-should-retry"))
			}
		})
	}
}

func TestGroupModelRefusal(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	if _, err := g.app.Store.PutGroup(t.Context(), store.Group{Name: "embedders", Models: []string{"sim-embed"}}); err != nil {
		t.Fatal(err)
	}
	if err := g.app.Groups.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	secret := g.newKey(t, store.Key{Group: "embedders"})
	resp, b := g.mustCall(t, secret, chatBody("sim-chat", "hi", ""), http.StatusForbidden)
	checkLimitEnvelope(t, resp, b)
	if lb := decodeLimit(t, b); lb.code() != "model_not_in_group" {
		t.Errorf("code %q, want model_not_in_group", lb.code())
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, g.srv.URL+"/v1/embeddings", strings.NewReader(`{"model":"sim-embed","input":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	r2, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = r2.Body.Close()
	if r2.StatusCode != http.StatusOK {
		t.Errorf("the group's own model: status %d, want 200", r2.StatusCode)
	}
}

// TestUsageRows: served requests are charged exactly price times usage
// (with the group's multiplier), failed and refused ones are not, and
// every row names the key's owner and group.
func TestUsageRows(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	if _, err := g.app.Store.PutGroup(t.Context(), store.Group{Name: "discount", PriceMultiplierPPM: 800_000}); err != nil {
		t.Fatal(err)
	}
	if err := g.app.Groups.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	secret := g.newKey(t, store.Key{Owner: "team-a", Group: "discount", Limits: store.Limits{RPM: 3}})
	prompts := []string{"hello", "a somewhat longer prompt with more words in it", "x y z"}
	for _, p := range prompts {
		g.mustCall(t, secret, chatBody("sim-priced", p, ""), http.StatusOK)
	}
	g.mustCall(t, secret, chatBody("sim-priced", "refused", ""), http.StatusTooManyRequests)
	other := g.newKey(t, store.Key{Owner: "team-a", Group: "discount"})
	resp, b := g.call(t, other, chatBody("sim-500", "fails", ""))
	if resp.StatusCode < 500 {
		t.Fatalf("sim-500: status %d: %s", resp.StatusCode, b)
	}
	rows := g.requestLogs(t)
	var served, unserved int
	for _, r := range rows {
		if r.KeyID == "" {
			continue
		}
		if r.Owner != "team-a" || r.Group != "discount" {
			t.Errorf("row %s: owner %q group %q, want team-a, discount", r.RequestID, r.Owner, r.Group)
		}
		if r.Status != http.StatusOK {
			unserved++
			if r.Charged || r.CostMicros != 0 {
				t.Errorf("row %s (status %d): charged %v cost %d, want false, 0", r.RequestID, r.Status, r.Charged, r.CostMicros)
			}
			continue
		}
		served++
		// 0.15 and 0.6 per million tokens, times 0.8, rounded down once.
		exact := new(big.Int).SetInt64(r.PromptTokens*150_000 + r.CompletionTokens*600_000)
		exact.Mul(exact, big.NewInt(800_000)).Quo(exact, big.NewInt(1_000_000_000_000))
		if !r.Charged || int64(r.CostMicros) != exact.Int64() || r.PromptTokens == 0 || r.CompletionTokens != 10 {
			t.Errorf("row %s: %d+%d tokens, charged %v cost %d; want charged %d", r.RequestID, r.PromptTokens, r.CompletionTokens,
				r.Charged, r.CostMicros, exact.Int64())
		}
	}
	if served != len(prompts) || unserved != 2 {
		t.Errorf("%d served and %d unserved rows, want %d and 2", served, unserved, len(prompts))
	}
}

// TestBudgetUnderConcurrency fires 200 requests at once against money for
// exactly 50. Each request's estimate is its actual cost (sim-slow answers
// 10 tokens, the estimate is 10 tokens, the prompt is free), so a
// reservation covers all a request will be charged: the in-flight bound
// on overshoot is 0 and exactly 50 are admitted. The settled spend, in the
// store, equals the sum of the costs of the usage rows and the budget.
func TestBudgetUnderConcurrency(t *testing.T) {
	const n, fit = 200, 50
	for _, backend := range []string{"memory", "redis"} {
		for _, money := range []string{"key monthly budget", "owner balance"} {
			t.Run(backend+" "+money, func(t *testing.T) {
				extra := ""
				if backend == "redis" {
					// 200 admissions at once on a busy CI machine (the race
					// detector): a round trip may wait longer than the
					// default 250ms, which this test is not about.
					extra = fmt.Sprintf("  backend: redis\n  redis: {url: %q, timeout: 5s}\n", servicetest.RedisURL(t))
				}
				g := newGateway(t, fmt.Sprintf(govConfig, extra))
				k := store.Key{}
				wantCode, wantStatus := "budget_exceeded", http.StatusTooManyRequests
				if money == "key monthly budget" {
					k.Limits.MonthlyBudget = fit * chatCost
				} else {
					k.Owner = uniq("owner-") // balances live in Redis for good
					if _, err := g.app.Store.AddCredit(t.Context(), store.Credit{Owner: k.Owner, Amount: fit * chatCost}); err != nil {
						t.Fatal(err)
					}
					if err := g.app.Credits.Refresh(t.Context()); err != nil {
						t.Fatal(err)
					}
					wantCode, wantStatus = "insufficient_balance", http.StatusPaymentRequired
				}
				secret, keyID := g.keyWithID(t, k)
				body := chatBody("sim-slow", "hi", "")
				var wg sync.WaitGroup
				var mu sync.Mutex
				statuses := map[string]int{}
				startGun := make(chan struct{})
				for range n {
					wg.Go(func() {
						<-startGun
						resp, b, err := g.try(secret, body)
						if err != nil {
							t.Error(err)
							return
						}
						label := strconv.Itoa(resp.StatusCode)
						if resp.StatusCode != http.StatusOK {
							var lb limitBody
							_ = json.Unmarshal(b, &lb)
							label += " " + lb.code()
						}
						mu.Lock()
						statuses[label]++
						mu.Unlock()
					})
				}
				close(startGun)
				wg.Wait()
				want := map[string]int{"200": fit, fmt.Sprintf("%d %s", wantStatus, wantCode): n - fit}
				if fmt.Sprint(statuses) != fmt.Sprint(want) {
					t.Errorf("answers %v, want %v", statuses, want)
				}
				rows := g.requestLogs(t)
				var charged, sum store.Money
				var total int
				for _, r := range rows {
					if r.KeyID != keyID {
						continue
					}
					total++
					rowCost := store.Money(r.PromptTokens*0 + r.CompletionTokens*10) // 0 and 10 per million tokens
					if r.Charged {
						charged++
						sum += r.CostMicros
						if r.CostMicros != rowCost {
							t.Errorf("row %s: cost %d, want %d for its usage", r.RequestID, r.CostMicros, rowCost)
						}
					} else if r.CostMicros != 0 {
						t.Errorf("uncharged row %s has cost %d", r.RequestID, r.CostMicros)
					}
				}
				if total != n || charged != fit || sum != fit*chatCost {
					t.Errorf("%d rows, %d charged, spend %d; want %d, %d, %d", total, charged, sum, n, fit, fit*chatCost)
				}
				stored, err := g.app.Store.SpendSince(t.Context(), keyID, "", time.Time{})
				if err != nil || stored != sum {
					t.Errorf("store spend = %d, %v; want %d", stored, err, sum)
				}
			})
		}
	}
}

func TestIPAllowList(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, ""))
	for _, tt := range []struct {
		name   string
		allow  []string
		status int
	}{
		{"no list: anywhere", nil, http.StatusOK},
		{"loopback network allowed", []string{"10.0.0.0/8", "127.0.0.0/8"}, http.StatusOK},
		{"the address itself", []string{"127.0.0.1"}, http.StatusOK},
		{"another network only", []string{"10.0.0.0/8", "2001:db8::/32"}, http.StatusForbidden},
		{"a malformed list allows nothing", []string{"not-a-cidr"}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			secret := g.newKey(t, store.Key{IPAllow: tt.allow})
			resp, b := g.mustCall(t, secret, chatBody("sim-chat", "hi", ""), tt.status)
			if tt.status == http.StatusOK {
				return
			}
			checkLimitEnvelope(t, resp, b)
			if lb := decodeLimit(t, b); lb.code() != "ip_not_allowed" || !strings.Contains(lb.Error.Message, "127.0.0.1") {
				t.Errorf("code %q message %q, want ip_not_allowed naming 127.0.0.1", lb.code(), lb.Error.Message)
			}
		})
	}
}
