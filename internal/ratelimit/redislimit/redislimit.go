// Package redislimit is the Redis implementation of ratelimit.Limiter, for
// several tollgate instances that must enforce one set of counters
// together.
//
// Each Admit is one round trip: an EVALSHA of a Lua script (go-redis loads
// it and falls back to EVAL on NOSCRIPT) that decides every limit and, only
// if all allow, takes them all. Redis runs a script without interleaving
// other commands, so the check and the update are one atomic step across
// all instances. Each Settle is one more round trip of a second script.
//
// Counters live under Options.Prefix, then a letter for the kind:
//
//	<prefix>r:<key>  Rate: string, the theoretical arrival time (Unix ns), PX until it passes
//	<prefix>c:<key>  Concurrency: ZSET of slot ids scored by expiry (Unix ms); expired slots dropped first
//	<prefix>q:<key>  Quota: hash u (units used), e (window end, Unix ns), PEXPIRE at the window end
//	<prefix>b:<key>  Balance: string counter of units spent, no expiry
//
// The scripts read the clock from Redis TIME, so every instance shares one
// clock; tests may inject a clock instead (Options.Now). They touch several
// keys, so on Redis Cluster all of them must hash to one slot: put a hash
// tag in the prefix, for example "{tollgate}:rl:".
//
// Errors from Redis are returned wrapped ("redislimit: admit: ..."); the
// caller decides whether to fail open or closed.
package redislimit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/ratelimit"
)

// Client is the part of a Redis client the limiter uses: running scripts.
// *redis.Client, *redis.ClusterClient, *redis.Ring and any
// redis.UniversalClient satisfy it.
type Client interface {
	redis.Scripter
}

// Options configures New. The zero value is ready to use.
type Options struct {
	// Prefix is prepended to every key the limiter writes; "" means
	// DefaultPrefix. Give each deployment sharing a Redis its own.
	Prefix string
	// Now is the clock, passed to the scripts on every call. nil (the
	// production setting) makes the scripts read Redis TIME, one clock for
	// every instance whatever their own clocks say. Tests inject a fake
	// clock so the Redis and in-process limiters can be driven alike.
	Now func() time.Time
}

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "tollgate:rl:"

var (
	//go:embed prelude.lua
	prelude string
	//go:embed admit.lua
	admitSource string
	//go:embed settle.lua
	settleSource string
)

// Limiter is the Redis ratelimit.Limiter. It is safe for concurrent use.
type Limiter struct {
	client Client
	prefix string
	now    func() time.Time
	admit  *redis.Script
	settle *redis.Script

	slotBase string        // random per Limiter, so slot ids never collide across instances
	slotSeq  atomic.Uint64 // next slot id
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a limiter keeping its counters in the Redis that client talks
// to. It does not contact Redis; the first Admit loads the scripts.
func New(client Client, opts Options) *Limiter {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return &Limiter{
		client:   client,
		prefix:   prefix,
		now:      opts.Now,
		admit:    redis.NewScript(prelude + admitSource),
		settle:   redis.NewScript(prelude + settleSource),
		slotBase: hex.EncodeToString(b[:]) + "-",
	}
}

// kinds holds the letter each kind uses in keys and script arguments.
var kinds = [...]string{ratelimit.Rate: "r", ratelimit.Concurrency: "c", ratelimit.Quota: "q", ratelimit.Balance: "b"}

// ticket records what one Admit took, as the settle script needs it.
type ticket struct {
	owner *Limiter
	state atomic.Int32 // ticketOpen, ticketSettling, ticketSettled
	items []item
}

const (
	ticketOpen int32 = iota
	ticketSettling
	ticketSettled
)

type item struct {
	key  string // full Redis key
	kind ratelimit.Kind
	cost int64
	arg  string // rate: interval ns; quota: window end; concurrency: slot id
}

// Admit implements ratelimit.Limiter in one round trip.
func (l *Limiter) Admit(ctx context.Context, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	if err := ratelimit.Validate(limits); err != nil {
		return ratelimit.Decision{Denied: -1}, err
	}
	keys := make([]string, len(limits))
	args := l.clockArgs(make([]any, 0, 2+5*len(limits)))
	// per limit: the script's a and b arguments (see admit.lua)
	as, bs := make([]string, len(limits)), make([]string, len(limits))
	for i, lim := range limits {
		keys[i] = l.prefix + kinds[lim.Kind] + ":" + lim.Key
		switch lim.Kind {
		case ratelimit.Rate:
			as[i] = strconv.FormatInt(int64(lim.Interval()), 10)
		case ratelimit.Concurrency:
			as[i] = strconv.FormatInt(lim.SlotTTL().Milliseconds(), 10)
			bs[i] = l.slotBase + strconv.FormatUint(l.slotSeq.Add(1), 10)
		case ratelimit.Quota:
			as[i] = strconv.FormatInt(lim.Until.UnixNano(), 10)
		}
		args = append(args, kinds[lim.Kind], strconv.FormatInt(lim.Limit, 10), strconv.FormatInt(lim.Cost, 10), as[i], bs[i])
	}
	res, err := l.admit.Run(ctx, l.client, keys, args...).Result()
	if err != nil {
		return ratelimit.Decision{Denied: -1}, fmt.Errorf("redislimit: admit: %w", err)
	}
	d, ends, err := decode(res, limits)
	if err != nil {
		return ratelimit.Decision{Denied: -1}, err
	}
	if d.Allowed {
		t := &ticket{owner: l, items: make([]item, len(limits))}
		for i, lim := range limits {
			it := item{key: keys[i], kind: lim.Kind, cost: lim.Cost}
			switch lim.Kind {
			case ratelimit.Rate:
				it.arg = as[i]
			case ratelimit.Concurrency:
				it.arg = bs[i]
			case ratelimit.Quota:
				it.arg = ends[i]
			}
			t.items[i] = it
		}
		d.Ticket = ratelimit.MakeTicket(t)
	}
	return d, nil
}

// clockArgs appends the scripts' first two arguments: now, or "" for TIME.
func (l *Limiter) clockArgs(args []any) []any {
	if l.now == nil {
		return append(args, "", "")
	}
	now := l.now()
	return append(args, strconv.FormatInt(now.Unix(), 10), strconv.Itoa(now.Nanosecond()))
}

// errReply reports a script reply of an unexpected shape.
var errReply = errors.New("redislimit: unexpected script reply")

// decode turns the admit script's reply into a Decision and, per quota, the
// end of the window its cost went into (as the script stores it).
func decode(res any, limits []ratelimit.Limit) (ratelimit.Decision, []string, error) {
	fail := ratelimit.Decision{Denied: -1}
	arr, ok := res.([]any)
	if !ok || len(arr) < 2 {
		return fail, nil, fmt.Errorf("%w: %T", errReply, res)
	}
	head, err := ints(arr[:min(len(arr), 4)])
	if err != nil {
		return fail, nil, err
	}
	if head[0] == -1 && len(head) == 2 && head[1] >= 0 && head[1] < int64(len(limits)) {
		lim := limits[head[1]]
		return fail, nil, fmt.Errorf("%w: limit %d (%s %q): window ended at %s", ratelimit.ErrInvalidLimit,
			head[1], lim.Kind, lim.Key, lim.Until.UTC().Format(time.RFC3339Nano))
	}
	if len(arr) != 4+3*len(limits) || head[1] < -1 || head[1] >= int64(len(limits)) {
		return fail, nil, fmt.Errorf("%w: %d values for %d limits", errReply, len(arr), len(limits))
	}
	now := time.Unix(head[2], head[3])
	d := ratelimit.Decision{Allowed: head[0] == 1, Denied: int(head[1]), States: make([]ratelimit.State, len(limits))}
	ends := make([]string, len(limits))
	resetAt := make([]time.Time, len(limits))
	retries := make([]time.Duration, len(limits))
	for i, lim := range limits {
		v := arr[4+3*i : 7+3*i]
		st := ratelimit.State{Limit: lim.Limit}
		if st.Remaining, err = toInt(v[0]); err != nil {
			return fail, nil, err
		}
		var retry int64
		if retry, err = toInt(v[2]); err != nil {
			return fail, nil, err
		}
		switch lim.Kind {
		case ratelimit.Rate:
			var reset int64
			if reset, err = toInt(v[1]); err != nil {
				return fail, nil, err
			}
			st.Reset = time.Duration(reset)
			retries[i] = time.Duration(retry)
			resetAt[i] = now.Add(st.Reset)
		case ratelimit.Quota:
			end, ok := v[1].(string)
			if !ok {
				return fail, nil, fmt.Errorf("%w: window end %T", errReply, v[1])
			}
			ns, err := strconv.ParseInt(end, 10, 64)
			if err != nil {
				return fail, nil, fmt.Errorf("%w: window end: %v", errReply, err)
			}
			ends[i] = end
			resetAt[i] = time.Unix(0, ns)
			st.Reset = resetAt[i].Sub(now)
			if lim.Cost <= lim.Limit {
				retries[i] = st.Reset
			}
		}
		d.States[i] = st
	}
	if !d.Allowed {
		if d.Denied < 0 {
			return fail, nil, fmt.Errorf("%w: refused without naming a limit", errReply)
		}
		d.RetryAfter, d.ResetAt = retries[d.Denied], resetAt[d.Denied]
	}
	return d, ends, nil
}

func ints(vs []any) ([]int64, error) {
	out := make([]int64, len(vs))
	for i, v := range vs {
		n, err := toInt(v)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func toInt(v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%w: want an integer, got %T", errReply, v)
	}
	return n, nil
}

// Settle implements ratelimit.Limiter in one round trip (none when there is
// nothing to change). A second Settle of the same ticket, or one made while
// the first is still running, does nothing. If the round trip fails the
// ticket stays open and Settle may be retried; if it failed after Redis ran
// the script (a timeout on the reply), a retry applies the correction twice.
func (l *Limiter) Settle(ctx context.Context, t ratelimit.Ticket, actual []int64) error {
	if t.IsZero() {
		return nil
	}
	p, ok := t.Payload().(*ticket)
	if !ok || p.owner != l {
		return fmt.Errorf("%w: ticket from another limiter", ratelimit.ErrInvalidSettle)
	}
	if err := ratelimit.CheckActual(len(p.items), actual); err != nil {
		return err
	}
	if !p.state.CompareAndSwap(ticketOpen, ticketSettling) {
		return nil
	}
	keys := make([]string, 0, len(p.items))
	args := l.clockArgs(make([]any, 0, 2+3*len(p.items)))
	for i, it := range p.items {
		delta := -it.cost
		if actual != nil {
			delta = actual[i] - it.cost
		}
		if it.kind == ratelimit.Concurrency {
			delta = 0
		} else if delta == 0 {
			continue
		}
		keys = append(keys, it.key)
		args = append(args, kinds[it.kind], strconv.FormatInt(delta, 10), it.arg)
	}
	if len(keys) > 0 {
		if err := l.settle.Run(ctx, l.client, keys, args...).Err(); err != nil {
			p.state.Store(ticketOpen)
			return fmt.Errorf("redislimit: settle: %w", err)
		}
	}
	p.state.Store(ticketSettled)
	return nil
}
