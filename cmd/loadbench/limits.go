package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/ratelimit/redislimit"
	"github.com/tollgate/tollgate/internal/store"
)

// Limits modes (-limits): no governance at all, or limits and quotas on
// with their counters in process memory or in Redis.
const (
	limitsNone   = "none"
	limitsMemory = "memory"
	limitsRedis  = "redis"
)

// defaultRedisURL is the Redis the -limits redis mode uses unless told.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

// The limits mode gives the benchmark key, its model and all traffic
// limits that are on but that no run can reach, so the benchmark measures
// what checking them costs, never a refusal. Rate limits stay below one
// unit per nanosecond (the limiter's bound). For scale: a run sends a few
// hundred thousand requests of about 1,050 estimated tokens and about 630
// µ-units of estimated cost each (priced below).
var (
	benchKeyLimits = store.Limits{
		RPM:           100_000_000,
		TPM:           10_000_000_000,
		Concurrency:   10_000,
		DailyRequests: 1_000_000_000_000,
		DailyTokens:   1_000_000_000_000_000,
		DailyCost:     10_000_000_000_000,  // 10 million currency units
		MonthlyBudget: 100_000_000_000_000, // 100 million currency units
	}
	// benchCredit is the owner's prepaid balance.
	benchCredit store.Money = 1_000_000_000_000_000 // 1 billion currency units
)

// limitsYAML is the configuration added to tollgate's in a limits mode:
// the counter backend, global and per-model limits, and the model's
// prices. %s are the backend and its Redis URL.
const limitsYAML = `
limits:
  backend: %s
  redis:
    url: %s
    on_error: fail_closed
  global: {rpm: 1000000000, tpm: 50000000000, concurrency: 100000}
  models:
    ` + benchModel + `: {rpm: 500000000, tpm: 20000000000, concurrency: 50000}
prices:
  ` + benchModel + `: {input: "0.15", output: "0.60", cached_input: "0.075"}
`

// tollgateLimitsYAML returns the limits part of tollgate's configuration
// for mode ("" for none).
func tollgateLimitsYAML(mode, redisURL string) string {
	if mode != limitsMemory && mode != limitsRedis {
		return ""
	}
	return fmt.Sprintf(limitsYAML, mode, strconv.Quote(redisURL))
}

func validLimitsMode(mode string) bool {
	return mode == limitsNone || mode == limitsMemory || mode == limitsRedis
}

// benchOwner is who the benchmark key's spend is billed to: unique per
// key, so a Redis shared by several runs starts every run's balance fresh.
func benchOwner(keyID string) string { return "loadbench-" + keyID }

// limitsStats is what the tollgate child's side listener reports at
// /limits: evidence that the limits were on and counted the run.
type limitsStats struct {
	Mode  string `json:"mode"`
	KeyID string `json:"key_id,omitempty"`
	Owner string `json:"owner,omitempty"`
	// CreditedMicros and SpentMicros are the owner's credited total and the
	// charged costs of its request log rows (µ-units).
	CreditedMicros int64 `json:"credited_micros"`
	SpentMicros    int64 `json:"spent_micros"`
	// RowsWritten is the request log's written row count.
	RowsWritten uint64 `json:"rows_written"`
	// RedisDailyRequests is the key's daily request quota counter as
	// stored in Redis; RedisKeys counts the run's counters there.
	RedisDailyRequests int64 `json:"redis_daily_requests_used,omitempty"`
	RedisKeys          int   `json:"redis_keys,omitempty"`
}

// benchGovernance is the tollgate child's side of a limits mode: the
// owner's credit, and a Redis client for checking the counters and
// removing them afterwards.
type benchGovernance struct {
	mode  string
	keyID string
	rdb   *redis.Client
}

// openRedis connects to url and checks that Redis answers.
func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("-redis-url: %w", err)
	}
	rdb := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("-limits redis needs a Redis server at %s: %w", opts.Addr, err)
	}
	return rdb, nil
}

// redisPID returns the Redis server's process id if it runs on this
// machine, else 0.
func (g *benchGovernance) redisPID(ctx context.Context) int {
	if g.rdb == nil {
		return 0
	}
	host, _, err := net.SplitHostPort(g.rdb.Options().Addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return 0
	}
	info, err := g.rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				return 0
			}
			// In a container the id may be another namespace's: trust it
			// only if that process is a Redis server.
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil || !strings.HasPrefix(string(comm), "redis") {
				return 0
			}
			return pid
		}
	}
	return 0
}

// credit tops up the key's owner and reloads tollgate's credit cache.
func (g *benchGovernance) credit(ctx context.Context, a *app.App) error {
	if _, err := a.Store.AddCredit(ctx, store.Credit{Owner: benchOwner(g.keyID), Amount: benchCredit, Note: "loadbench"}); err != nil {
		return fmt.Errorf("crediting the benchmark owner: %w", err)
	}
	if err := a.Credits.Refresh(ctx); err != nil {
		return err
	}
	if got, ok := a.Credits.Credited(benchOwner(g.keyID)); !ok || got != benchCredit {
		return fmt.Errorf("the credit cache holds %d for the benchmark owner, want %d", got, benchCredit)
	}
	return nil
}

// stats reads the evidence for /limits.
func (g *benchGovernance) stats(ctx context.Context, a *app.App) (limitsStats, error) {
	st := limitsStats{Mode: g.mode, KeyID: g.keyID}
	if rl := a.RequestLog(); rl != nil {
		st.RowsWritten = rl.Written()
	}
	if g.mode == limitsNone {
		return st, nil
	}
	st.Owner = benchOwner(g.keyID)
	credited, spent, err := a.Store.OwnerTotals(ctx, st.Owner)
	if err != nil {
		return st, fmt.Errorf("reading the owner's totals: %w", err)
	}
	st.CreditedMicros, st.SpentMicros = int64(credited), int64(spent)
	if g.rdb == nil {
		return st, nil
	}
	keys, err := g.runKeys(ctx)
	if err != nil {
		return st, err
	}
	st.RedisKeys = len(keys)
	for _, k := range keys {
		// Daily request quotas: <prefix>q:k:<key id>:day<start>:req, hash field u.
		if !strings.HasPrefix(k, redislimit.DefaultPrefix+"q:k:"+g.keyID+":day") || !strings.HasSuffix(k, ":req") {
			continue
		}
		n, err := g.rdb.HGet(ctx, k, "u").Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return st, fmt.Errorf("reading %s: %w", k, err)
		}
		st.RedisDailyRequests += n
	}
	return st, nil
}

// runKeys lists the Redis counters of this run: every one names the key
// ID (the owner's name contains it too).
func (g *benchGovernance) runKeys(ctx context.Context) ([]string, error) {
	var keys []string
	iter := g.rdb.Scan(ctx, 0, redislimit.DefaultPrefix+"*"+g.keyID+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("listing the run's Redis counters: %w", err)
	}
	return keys, nil
}

// close removes the run's counters from Redis (the balance counter never
// expires by itself) and closes the client.
func (g *benchGovernance) close() error {
	if g.rdb == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := g.runKeys(ctx)
	if err == nil && len(keys) > 0 {
		err = g.rdb.Del(ctx, keys...).Err()
	}
	return errors.Join(err, g.rdb.Close())
}

// handler serves /limits.
func (g *benchGovernance) handler(a *app.App) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := g.stats(r.Context(), a)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}
}

// rateHeaders are the x-ratelimit-* headers of one answer; -1 if absent.
type rateHeaders struct {
	LimitRequests     int64 `json:"limit_requests"`
	RemainingRequests int64 `json:"remaining_requests"`
	LimitTokens       int64 `json:"limit_tokens"`
	RemainingTokens   int64 `json:"remaining_tokens"`
}

func readRateHeaders(h http.Header) rateHeaders {
	num := func(name string) int64 {
		n, err := strconv.ParseInt(h.Get(name), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return rateHeaders{
		LimitRequests: num("x-ratelimit-limit-requests"), RemainingRequests: num("x-ratelimit-remaining-requests"),
		LimitTokens: num("x-ratelimit-limit-tokens"), RemainingTokens: num("x-ratelimit-remaining-tokens"),
	}
}

// limitsCheck is the report's evidence that the limits mode was in force.
type limitsCheck struct {
	Mode   string      `json:"mode"`
	Before rateHeaders `json:"probe_before"`
	After  rateHeaders `json:"probe_after"`
	limitsStats
	// MeanCostMicros is the charged spend per request log row.
	MeanCostMicros float64 `json:"mean_cost_micros_per_row"`
	// Problems lists what shows the limits were not in force; any fails
	// the run.
	Problems []string `json:"problems,omitempty"`
}

// probeLimits sends one non-stream request to tollgate and returns its
// x-ratelimit-* headers.
func (e *env) probeLimits(ctx context.Context) (rateHeaders, error) {
	c := newClient(1)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.tollgate.hello.Addr+"/v1/chat/completions",
		strings.NewReader(string(kindPlain.body)))
	if err != nil {
		return rateHeaders{}, err
	}
	req.Header["Content-Type"] = hdrJSON
	req.Header["Authorization"] = e.auth
	resp, err := c.Do(req)
	if err != nil {
		return rateHeaders{}, fmt.Errorf("probing tollgate's limits: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return rateHeaders{}, fmt.Errorf("probing tollgate's limits: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return rateHeaders{}, fmt.Errorf("probing tollgate's limits: status %d: %.300s", resp.StatusCode, body)
	}
	return readRateHeaders(resp.Header), nil
}

// checkHeaders returns what is wrong with a probe's headers in mode.
func checkHeaders(mode, when string, h rateHeaders) []string {
	var bad []string
	if mode == limitsNone {
		if h.LimitRequests >= 0 || h.LimitTokens >= 0 {
			bad = append(bad, fmt.Sprintf("%s: limits are off, but tollgate sent x-ratelimit headers %+v", when, h))
		}
		return bad
	}
	if h.LimitRequests != benchKeyLimits.RPM || h.LimitTokens != benchKeyLimits.TPM {
		bad = append(bad, fmt.Sprintf("%s: x-ratelimit-limit-requests/-tokens are %d/%d, want the key's %d/%d",
			when, h.LimitRequests, h.LimitTokens, benchKeyLimits.RPM, benchKeyLimits.TPM))
	}
	if h.RemainingRequests < 0 || h.RemainingRequests >= h.LimitRequests || h.RemainingTokens < 0 || h.RemainingTokens >= h.LimitTokens {
		bad = append(bad, fmt.Sprintf("%s: the request was not counted: remaining requests %d of %d, tokens %d of %d",
			when, h.RemainingRequests, h.LimitRequests, h.RemainingTokens, h.LimitTokens))
	}
	return bad
}

// limitsStats asks the tollgate child for its /limits evidence.
func (e *env) limitsStats(ctx context.Context) (limitsStats, error) {
	var st limitsStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.tollgate.hello.Side+"/limits", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("asking tollgate's process for its limits: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return st, fmt.Errorf("asking tollgate's process for its limits: status %d: %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decoding tollgate's limits: %w", err)
	}
	return st, nil
}

// finishLimits probes once more after the run, gathers the child's
// evidence and lists the problems: with limits on, the key's limits must
// show in the headers and count the probe, the owner must have been
// charged for the run, and with Redis the key's daily request quota must
// be counted there.
func (e *env) finishLimits(ctx context.Context, lc *limitsCheck) error {
	after, err := e.probeLimits(ctx)
	if err != nil {
		return err
	}
	lc.After = after
	lc.Problems = append(lc.Problems, checkHeaders(lc.Mode, "after the run", after)...)
	if err := sleepCtx(ctx, settleTime); err != nil { // the probe's log row
		return err
	}
	st, err := e.limitsStats(ctx)
	if err != nil {
		return err
	}
	lc.limitsStats = st
	if st.RowsWritten > 0 {
		lc.MeanCostMicros = float64(st.SpentMicros) / float64(st.RowsWritten)
	}
	if lc.Mode == limitsNone {
		return nil
	}
	if st.CreditedMicros != int64(benchCredit) {
		lc.Problems = append(lc.Problems, fmt.Sprintf("the owner's credit is %d, want %d", st.CreditedMicros, benchCredit))
	}
	if st.SpentMicros <= 0 || st.RowsWritten == 0 {
		lc.Problems = append(lc.Problems, fmt.Sprintf("no charged spend: %d µ-units over %d request log rows", st.SpentMicros, st.RowsWritten))
	}
	if lc.Mode == limitsRedis && (st.RedisKeys == 0 || st.RedisDailyRequests <= 0) {
		lc.Problems = append(lc.Problems, fmt.Sprintf("Redis holds %d counters of the run and a daily request count of %d", st.RedisKeys, st.RedisDailyRequests))
	}
	return nil
}
