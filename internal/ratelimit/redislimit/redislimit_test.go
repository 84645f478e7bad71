package redislimit_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/ratelimit/ratelimittest"
	"github.com/tollgate/tollgate/internal/ratelimit/redislimit"
	"github.com/tollgate/tollgate/internal/servicetest"
)

// client connects to the test Redis and closes the connection when t ends.
func client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(servicetest.RedisURL(t))
	if err != nil {
		t.Fatalf("redis URL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix returns a key prefix of the test's own and deletes its keys when t
// ends, so parallel tests and runs never see each other's counters.
func prefix(t testing.TB, c *redis.Client) string {
	p := "tollgate-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

func TestRedis(t *testing.T) {
	c := client(t)
	ratelimittest.Exercise(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return redislimit.New(c, redislimit.Options{Prefix: prefix(t, c), Now: now})
	})
}

// TestRedisServerClock runs without an injected clock, as production does:
// the scripts read Redis TIME.
func TestRedisServerClock(t *testing.T) {
	c := client(t)
	l := redislimit.New(c, redislimit.Options{Prefix: prefix(t, c)})
	ctx := context.Background()
	limits := []ratelimit.Limit{
		{Key: "rpm", Kind: ratelimit.Rate, Limit: 2, Period: time.Hour, Cost: 1},
		{Key: "daily", Kind: ratelimit.Quota, Limit: 10, Until: time.Now().Add(time.Hour), Cost: 1},
		{Key: "concurrent", Kind: ratelimit.Concurrency, Limit: 10},
	}
	for range 2 {
		if d, err := l.Admit(ctx, limits); err != nil || !d.Allowed {
			t.Fatalf("Admit: %+v, %v; want allowed", d, err)
		}
	}
	d, err := l.Admit(ctx, limits)
	if err != nil || d.Allowed || d.Denied != 0 {
		t.Fatalf("third Admit: %+v, %v; want denied by the rate limit", d, err)
	}
	// Half an hour per request: the third fits 30 minutes after the first,
	// less the little time this test has taken.
	if d.RetryAfter <= 29*time.Minute || d.RetryAfter > 30*time.Minute {
		t.Fatalf("retry after %v, want just under 30m", d.RetryAfter)
	}
	if until := time.Until(d.ResetAt); until <= 59*time.Minute || until > time.Hour+time.Second {
		t.Fatalf("reset at %v from now, want about 1h", until)
	}
	if q := d.States[1]; q.Remaining != 8 || q.Reset <= 59*time.Minute {
		t.Fatalf("quota state %+v, want 8 remaining and about 1h to reset", q)
	}
}

// TestRedisErrors checks that Redis failures come back wrapped, never as
// a decision or a panic.
func TestRedisErrors(t *testing.T) {
	c := client(t)
	p := prefix(t, c)
	ctx := context.Background()
	l := redislimit.New(c, redislimit.Options{Prefix: p})
	limits := []ratelimit.Limit{{Key: "k", Kind: ratelimit.Balance, Limit: 10, Cost: 1}}

	t.Run("wrong type", func(t *testing.T) {
		if err := c.HSet(ctx, p+"b:k", "x", "1").Err(); err != nil {
			t.Fatal(err)
		}
		d, err := l.Admit(ctx, limits)
		if err == nil || d.Allowed || !strings.HasPrefix(err.Error(), "redislimit: admit: ") {
			t.Fatalf("Admit over a hash: %+v, %v; want a wrapped error", d, err)
		}
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			t.Fatalf("error %v does not wrap the Redis error", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = down.Close() })
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		d, err := redislimit.New(down, redislimit.Options{Prefix: p}).Admit(ctx, limits)
		if err == nil || d.Allowed || !strings.HasPrefix(err.Error(), "redislimit: admit: ") {
			t.Fatalf("Admit without Redis: %+v, %v; want a wrapped error", d, err)
		}
	})
	t.Run("settle fails then retries", func(t *testing.T) {
		ok := redislimit.New(c, redislimit.Options{Prefix: p + "s:"})
		d, err := ok.Admit(ctx, limits)
		if err != nil || !d.Allowed {
			t.Fatalf("Admit: %+v, %v", d, err)
		}
		if err := c.Del(ctx, p+"s:b:k").Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.HSet(ctx, p+"s:b:k", "x", "1").Err(); err != nil {
			t.Fatal(err)
		}
		if err := ok.Settle(ctx, d.Ticket, nil); err == nil || !strings.HasPrefix(err.Error(), "redislimit: settle: ") {
			t.Fatalf("Settle over a hash: %v; want a wrapped error", err)
		}
		if err := c.Del(ctx, p+"s:b:k").Err(); err != nil {
			t.Fatal(err)
		}
		if err := ok.Settle(ctx, d.Ticket, nil); err != nil {
			t.Fatalf("Settle retried: %v", err)
		}
		if v, err := c.Get(ctx, p+"s:b:k").Result(); err != nil || v != "-1" {
			t.Fatalf("balance after the retried release: %q, %v; want -1 (the refund applied once)", v, err)
		}
	})
}

// TestRedisScriptReload checks the EVALSHA fallback: after SCRIPT FLUSH the
// scripts are sent again.
func TestRedisScriptReload(t *testing.T) {
	c := client(t)
	l := redislimit.New(c, redislimit.Options{Prefix: prefix(t, c)})
	ctx := context.Background()
	limits := []ratelimit.Limit{{Key: "k", Kind: ratelimit.Balance, Limit: 10, Cost: 1}}
	for range 2 {
		d, err := l.Admit(ctx, limits)
		if err != nil || !d.Allowed {
			t.Fatalf("Admit: %+v, %v", d, err)
		}
		if err := l.Settle(ctx, d.Ticket, []int64{2}); err != nil {
			t.Fatalf("Settle: %v", err)
		}
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func benchLimits() []ratelimit.Limit {
	return []ratelimit.Limit{
		{Key: "key:key_ab12:rpm", Kind: ratelimit.Rate, Limit: 1_000_000_000, Period: time.Minute, Cost: 1},
		{Key: "key:key_ab12:tpm", Kind: ratelimit.Rate, Limit: 1_000_000_000, Period: time.Minute, Cost: 1},
		{Key: "key:key_ab12:daily", Kind: ratelimit.Quota, Limit: ratelimit.MaxUnits, Until: time.Now().Add(24 * time.Hour), Cost: 1},
		{Key: "owner:o1:balance", Kind: ratelimit.Balance, Limit: ratelimit.MaxUnits, Cost: 1},
	}
}

// BenchmarkRedisAdmit measures one Admit round trip with four limits.
func BenchmarkRedisAdmit(b *testing.B) {
	c := client(b)
	l := redislimit.New(c, redislimit.Options{Prefix: prefix(b, c)})
	limits := benchLimits()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := l.Admit(ctx, limits); err != nil || !d.Allowed {
			b.Fatalf("Admit: %+v, %v", d, err)
		}
	}
}

// BenchmarkRedisAdmitSettle measures a request's two round trips: Admit
// with a concurrency slot, then Settle.
func BenchmarkRedisAdmitSettle(b *testing.B) {
	c := client(b)
	l := redislimit.New(c, redislimit.Options{Prefix: prefix(b, c)})
	limits := benchLimits()
	limits[3] = ratelimit.Limit{Key: "key:key_ab12:concurrent", Kind: ratelimit.Concurrency, Limit: 1000}
	actual := []int64{1, 2, 2, 0}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := l.Admit(ctx, limits)
		if err != nil || !d.Allowed {
			b.Fatalf("Admit: %+v, %v", d, err)
		}
		if err := l.Settle(ctx, d.Ticket, actual); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisAdmitParallel measures Admit throughput with many callers
// pipelining over the client's pool.
func BenchmarkRedisAdmitParallel(b *testing.B) {
	c := client(b)
	l := redislimit.New(c, redislimit.Options{Prefix: prefix(b, c)})
	limits := benchLimits()
	ctx := context.Background()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Admit(ctx, limits); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
