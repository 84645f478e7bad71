package redislimit_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/ratelimit/ratelimittest"
	"github.com/tollgate/tollgate/internal/ratelimit/redislimit"
)

// TestMatchesMemory drives the Redis and in-process limiters through the
// same random admissions, settlements and clock steps and requires
// identical decisions, to the nanosecond: the Lua script's double
// arithmetic must agree with Go's integers.
func TestMatchesMemory(t *testing.T) {
	c := client(t)
	clock := ratelimittest.NewClock(time.Now().Truncate(time.Second).Add(987654321))
	mem := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock.Now})
	red := redislimit.New(c, redislimit.Options{Prefix: prefix(t, c), Now: clock.Now})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))

	catalogue := []ratelimit.Limit{
		{Key: "k1:rpm", Kind: ratelimit.Rate, Limit: 7, Period: time.Minute},
		{Key: "k1:tpm", Kind: ratelimit.Rate, Limit: 10_000, Period: time.Minute},
		{Key: "g:tps", Kind: ratelimit.Rate, Limit: 3_000_000, Period: time.Second},
		{Key: "k1:conc", Kind: ratelimit.Concurrency, Limit: 3, TTL: 7 * time.Second},
		{Key: "k1:daily", Kind: ratelimit.Quota, Limit: 50_000},
		{Key: "k1:reqs", Kind: ratelimit.Quota, Limit: 40},
		{Key: "o1:balance", Kind: ratelimit.Balance, Limit: 200_000},
	}
	type pair struct {
		limits   []ratelimit.Limit
		mem, red ratelimit.Ticket
	}
	var open []pair
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 2:
			clock.Advance(time.Duration(rng.Int64N(int64(4 * time.Second))))
		case op < 4 && len(open) > 0:
			i := rng.IntN(len(open))
			p := open[i]
			open = append(open[:i], open[i+1:]...)
			var actual []int64
			if rng.IntN(3) > 0 {
				actual = make([]int64, len(p.limits))
				for j, l := range p.limits {
					actual[j] = rng.Int64N(2*l.Cost + 2)
				}
			}
			em := mem.Settle(ctx, p.mem, actual)
			er := red.Settle(ctx, p.red, actual)
			if em != nil || er != nil {
				t.Fatalf("step %d: settle: memory %v, redis %v", step, em, er)
			}
		default:
			var limits []ratelimit.Limit
			until := clock.Now().Truncate(time.Minute).Add(time.Minute)
			for _, j := range rng.Perm(len(catalogue))[:1+rng.IntN(3)] {
				l := catalogue[j]
				l.Until = until
				l.Cost = rng.Int64N(l.Limit/4 + 2)
				if rng.IntN(50) == 0 {
					l.Cost = l.Limit + 1 // never admissible
				}
				limits = append(limits, l)
			}
			dm, em := mem.Admit(ctx, limits)
			dr, er := red.Admit(ctx, limits)
			if em != nil || er != nil {
				t.Fatalf("step %d: admit: memory %v, redis %v", step, em, er)
			}
			if !sameDecision(dm, dr) {
				t.Fatalf("step %d: limits %+v\nmemory %+v\nredis  %+v", step, limits, dm, dr)
			}
			if dm.Allowed {
				open = append(open, pair{limits, dm.Ticket, dr.Ticket})
			}
		}
	}
}

func sameDecision(a, b ratelimit.Decision) bool {
	return a.Allowed == b.Allowed && a.Denied == b.Denied && a.RetryAfter == b.RetryAfter &&
		a.ResetAt.Equal(b.ResetAt) && reflect.DeepEqual(a.States, b.States)
}
