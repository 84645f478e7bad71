package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryOptions configures NewMemory. The zero value is ready to use.
type MemoryOptions struct {
	// Now is the clock; nil means time.Now. Tests pass a fake clock.
	Now func() time.Time
}

// Memory is the in-process Limiter: counters in a map behind one mutex, so
// every limit of one Admit is decided atomically and no lock ordering can
// deadlock. Counters that no longer hold anything (an idle Rate counter,
// a Quota whose window ended, a Concurrency counter whose slots all
// expired) are removed lazily: each Admit looks at a couple of random
// counters and drops the expired ones. Balance counters are never dropped.
// An Admit of up to four limits makes one allocation, holding the
// Decision's States and its Ticket, which outlive the call. A Memory is
// safe for concurrent use; its counters die with the process.
type Memory struct {
	now func() time.Time

	mu       sync.Mutex
	counters map[counterKey]*counter
	nextSlot uint64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-process limiter.
func NewMemory(opts MemoryOptions) *Memory {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, counters: make(map[counterKey]*counter)}
}

// counterKey keeps counters of different kinds apart under one Key, as the
// Redis limiter does with its per-kind key prefixes.
type counterKey struct {
	kind Kind
	key  string
}

// counter is the state of one counter; which fields count depends on kind.
type counter struct {
	tat   int64  // Rate: theoretical arrival time, Unix ns
	used  int64  // Quota, Balance: units taken
	until int64  // Quota: window end, Unix ns
	slots []slot // Concurrency: held slots
}

type slot struct {
	id      uint64
	expires int64 // Unix ms
}

// inline is how many limits one Admit handles without extra allocations.
const inline = 4

// memAdmission puts a decision's States and its ticket in one allocation.
type memAdmission struct {
	states [inline]State
	ticket memTicket
}

// memTicket records what one Admit took.
type memTicket struct {
	owner  *Memory
	done   atomic.Bool
	items  []memItem
	inline [inline]memItem
}

type memItem struct {
	key      counterKey
	cost     int64
	interval int64  // Rate: emission interval, ns
	until    int64  // Quota: end of the window the cost went into, Unix ns
	slot     uint64 // Concurrency: the slot held
}

// eval is one limit's verdict before anything is taken.
type eval struct {
	c       *counter // the counter as found, nil if none
	ok      bool
	before  State
	after   State
	retry   time.Duration
	resetAt int64 // Unix ns, 0 for none
	tat     int64 // Rate: new TAT if taken
	until   int64 // Quota: window end if taken
	fresh   bool  // Quota: the window starts with this request
}

// Admit implements Limiter.
func (m *Memory) Admit(ctx context.Context, limits []Limit) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{Denied: -1}, err
	}
	if err := Validate(limits); err != nil {
		return Decision{Denied: -1}, err
	}
	n := len(limits)
	adm := new(memAdmission)
	states := adm.states[:0]
	var scratch [inline]eval
	evals := scratch[:0]
	if n > inline {
		states = make([]State, 0, n)
		evals = make([]eval, 0, n)
	}
	states, evals = states[:n], evals[:n]

	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	denied := -1
	for i := range limits {
		ev, err := m.evaluate(&limits[i], now)
		if err != nil {
			return Decision{Denied: -1}, fmt.Errorf("%w: limit %d (%s %q): %v", ErrInvalidLimit, i, limits[i].Kind, limits[i].Key, err)
		}
		evals[i] = ev
		if !ev.ok && denied < 0 {
			denied = i
		}
	}
	// Sweep only after take: evaluate's counters must stay in the map.
	defer m.sweep(now)
	if denied >= 0 {
		for i := range evals {
			states[i] = evals[i].before
		}
		d := Decision{Denied: denied, RetryAfter: evals[denied].retry, States: states}
		if evals[denied].resetAt != 0 {
			d.ResetAt = time.Unix(0, evals[denied].resetAt)
		}
		return d, nil
	}
	t := &adm.ticket
	t.owner = m
	t.items = t.inline[:0]
	if n > inline {
		t.items = make([]memItem, 0, n)
	}
	t.items = t.items[:n]
	for i := range limits {
		states[i] = evals[i].after
		t.items[i] = m.take(&limits[i], &evals[i], now)
	}
	return Decision{Allowed: true, Denied: -1, States: states, Ticket: MakeTicket(t)}, nil
}

// evaluate decides one limit without taking it. It only drops expired
// concurrency slots, which changes nothing a caller can observe.
func (m *Memory) evaluate(l *Limit, now int64) (eval, error) {
	c := m.counters[counterKey{l.Kind, l.Key}]
	var ev eval
	var err error
	switch l.Kind {
	case Rate:
		ev = evalRate(l, c, now)
	case Concurrency:
		ev = evalConcurrency(l, c, now)
	case Quota:
		ev, err = evalQuota(l, c, now)
	default:
		ev = evalBalance(l, c)
	}
	ev.c = c
	return ev, err
}

func evalRate(l *Limit, c *counter, now int64) eval {
	t := int64(l.Interval())
	tau := t * l.Limit
	var debt int64
	if c != nil && c.tat > now {
		debt = c.tat - now
	}
	ev := eval{before: State{Limit: l.Limit, Remaining: remaining(tau, debt, t), Reset: time.Duration(debt)}}
	if l.Cost > l.Limit {
		ev.resetAt = now + debt
		return ev
	}
	next := debt + l.Cost*t
	if next > tau {
		ev.retry = time.Duration(next - tau)
		ev.resetAt = now + debt
		return ev
	}
	ev.ok = true
	ev.tat = now + next
	ev.after = State{Limit: l.Limit, Remaining: remaining(tau, next, t), Reset: time.Duration(next)}
	return ev
}

// remaining is how many whole emission intervals t fit between debt and the
// burst capacity tau.
func remaining(tau, debt, t int64) int64 {
	if debt >= tau {
		return 0
	}
	return (tau - debt) / t
}

func evalConcurrency(l *Limit, c *counter, now int64) eval {
	held := int64(0)
	if c != nil {
		c.purge(now)
		held = int64(len(c.slots))
	}
	ev := eval{before: State{Limit: l.Limit, Remaining: max(l.Limit-held, 0)}}
	if held < l.Limit {
		ev.ok = true
		ev.after = State{Limit: l.Limit, Remaining: l.Limit - held - 1}
	}
	return ev
}

func evalQuota(l *Limit, c *counter, now int64) (eval, error) {
	ev := eval{until: l.Until.UnixNano(), fresh: true}
	var used int64
	if c != nil && c.until > now {
		ev.until, ev.fresh, used = c.until, false, c.used
	}
	if ev.fresh && ev.until <= now {
		return ev, fmt.Errorf("window ended at %s", l.Until.UTC().Format(time.RFC3339Nano))
	}
	reset := time.Duration(ev.until - now)
	left := l.Limit - used
	ev.before = State{Limit: l.Limit, Remaining: max(left, 0), Reset: reset}
	switch {
	case l.Cost > l.Limit:
		ev.resetAt = ev.until
	case l.Cost > left:
		ev.retry = reset
		ev.resetAt = ev.until
	default:
		ev.ok = true
		ev.after = State{Limit: l.Limit, Remaining: left - l.Cost, Reset: reset}
	}
	return ev, nil
}

func evalBalance(l *Limit, c *counter) eval {
	var used int64
	if c != nil {
		used = c.used
	}
	left := l.Limit - used
	ev := eval{before: State{Limit: l.Limit, Remaining: max(left, 0)}}
	if l.Cost <= left {
		ev.ok = true
		ev.after = State{Limit: l.Limit, Remaining: left - l.Cost}
	}
	return ev
}

// take applies an admitted limit and returns what Settle needs to undo or
// correct it. m.mu is held, and has been since evaluate.
func (m *Memory) take(l *Limit, ev *eval, now int64) memItem {
	k := counterKey{l.Kind, l.Key}
	it := memItem{key: k, cost: l.Cost}
	c := ev.c
	if c == nil {
		if l.Kind == Rate && ev.tat <= now {
			return memItem{key: k, interval: int64(l.Interval())} // cost 0 on an idle counter: nothing to record
		}
		c = new(counter)
		m.counters[k] = c
	}
	switch l.Kind {
	case Rate:
		c.tat = ev.tat
		it.interval = int64(l.Interval())
	case Concurrency:
		m.nextSlot++
		it.slot = m.nextSlot
		c.slots = append(c.slots, slot{id: it.slot, expires: unixMilli(now) + l.SlotTTL().Milliseconds()})
	case Quota:
		if ev.fresh {
			c.used, c.until = 0, ev.until
		}
		c.used += l.Cost
		it.until = ev.until
	case Balance:
		c.used += l.Cost
	}
	return it
}

// Settle implements Limiter.
func (m *Memory) Settle(ctx context.Context, t Ticket, actual []int64) error {
	if t.IsZero() {
		return nil
	}
	p, ok := t.Payload().(*memTicket)
	if !ok || p.owner != m {
		return fmt.Errorf("%w: ticket from another limiter", ErrInvalidSettle)
	}
	if err := CheckActual(len(p.items), actual); err != nil {
		return err
	}
	if !p.done.CompareAndSwap(false, true) {
		return nil
	}
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, it := range p.items {
		delta := -it.cost
		if actual != nil {
			delta = actual[i] - it.cost
		}
		m.adjust(it, delta, now)
	}
	return nil
}

// CheckActual checks the actual slice given to Settle for a ticket of n
// limits and returns an error wrapping ErrInvalidSettle if it is wrong. It
// is for Limiter implementations.
func CheckActual(n int, actual []int64) error {
	if actual == nil {
		return nil
	}
	if len(actual) != n {
		return fmt.Errorf("%w: %d actual values for %d limits", ErrInvalidSettle, len(actual), n)
	}
	for i, a := range actual {
		if a < 0 || a > MaxUnits {
			return fmt.Errorf("%w: actual value %d out of range", ErrInvalidSettle, i)
		}
	}
	return nil
}

// adjust moves one counter by delta units. m.mu is held.
func (m *Memory) adjust(it memItem, delta, now int64) {
	c := m.counters[it.key]
	switch it.key.kind {
	case Rate:
		if delta == 0 {
			return
		}
		var debt int64
		if c != nil && c.tat > now {
			debt = c.tat - now
		}
		next := SettleDebt(debt, delta, it.interval)
		if c == nil {
			if next == 0 {
				return
			}
			c = new(counter)
			m.counters[it.key] = c
		}
		c.tat = now + next
	case Concurrency:
		if c != nil {
			c.release(it.slot)
		}
	case Quota:
		if c != nil && c.until == it.until && c.until > now {
			c.used += delta
		}
	case Balance:
		if c == nil {
			c = new(counter)
			m.counters[it.key] = c
		}
		c.used += delta
	}
}

// SettleDebt returns a Rate counter's debt (TAT minus now, in ns) after
// Settle moves it by delta units of interval ns each: a refund never takes
// it below 0 (a full burst available now) and a charge never past
// MaxPeriod. It is for Limiter implementations, which must agree on it.
func SettleDebt(debt, delta, interval int64) int64 {
	const ceiling = int64(MaxPeriod)
	switch {
	case delta > 0 && delta > (ceiling-debt)/interval:
		return ceiling
	case delta < 0 && -delta > debt/interval:
		return 0
	}
	return debt + delta*interval
}

// sweep drops up to two expired counters, chosen at random by map order.
// m.mu is held.
func (m *Memory) sweep(now int64) {
	seen := 0
	for k, c := range m.counters {
		if c.expired(k.kind, now) {
			delete(m.counters, k)
		}
		if seen++; seen == 2 {
			return
		}
	}
}

// expired reports whether the counter holds nothing any more, so dropping
// it changes no decision.
func (c *counter) expired(kind Kind, now int64) bool {
	switch kind {
	case Rate:
		return c.tat <= now
	case Concurrency:
		c.purge(now)
		return len(c.slots) == 0
	case Quota:
		return c.until <= now
	}
	return false
}

// purge drops the slots that have expired by now.
func (c *counter) purge(now int64) {
	ms := unixMilli(now)
	kept := c.slots[:0]
	for _, s := range c.slots {
		if s.expires > ms {
			kept = append(kept, s)
		}
	}
	clear(c.slots[len(kept):])
	c.slots = kept
}

func (c *counter) release(id uint64) {
	for i, s := range c.slots {
		if s.id == id {
			last := len(c.slots) - 1
			c.slots[i] = c.slots[last]
			c.slots = c.slots[:last]
			return
		}
	}
}

// unixMilli converts Unix ns to Unix ms, rounding down.
func unixMilli(ns int64) int64 {
	ms := ns / 1e6
	if ns < 0 && ns%1e6 != 0 {
		ms--
	}
	return ms
}
