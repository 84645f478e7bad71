package idempotency

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults applied by NewMemory to zero (or negative) MemoryOptions fields.
const (
	// DefaultWindow is how long a finished result is kept.
	DefaultWindow = 24 * time.Hour
	// DefaultMaxEntries is how many keys a Memory store holds.
	DefaultMaxEntries = 100_000
	// DefaultInProgressTTL is how long a claim lasts without Finish or
	// Abandon.
	DefaultInProgressTTL = 10 * time.Minute
)

// sweepBatch bounds how many expired entries of each kind one Begin removes
// on its way, so no single request pays for a large backlog. Each Begin adds
// at most one entry, so a batch above one keeps up over time.
const sweepBatch = 8

// MemoryOptions configures a Memory store. The zero value is usable: every
// zero or negative field takes the default named in its comment.
type MemoryOptions struct {
	// Window is how long a finished result is kept for replay, counted
	// from Finish. After it the key is new again. Default DefaultWindow.
	Window time.Duration
	// MaxEntries caps the number of keys held, running and finished
	// together. When a new claim would exceed it, expired entries go
	// first, then the finished entries that finished longest ago. Running
	// claims are never dropped to make room: if every entry is running,
	// Begin returns ErrFull. Default DefaultMaxEntries.
	MaxEntries int
	// MaxResultBytes is the largest Result.Size kept for replay. A larger
	// result is kept only as a marker, so a repeat gets TooLarge (answer
	// 409) instead of running the request a second time. Default
	// DefaultMaxResultBytes.
	MaxResultBytes int
	// InProgressTTL is how long a claim lasts without Finish or Abandon.
	// After it the claim is treated as a crashed request: the next Begin
	// starts the request again, and the late Finish or Abandon of the old
	// claim gets ErrNotClaimed. Set it above the longest request tollgate
	// allows. Default DefaultInProgressTTL.
	InProgressTTL time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// withDefaults returns o with every unset field filled in.
func (o MemoryOptions) withDefaults() MemoryOptions {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxResultBytes <= 0 {
		o.MaxResultBytes = DefaultMaxResultBytes
	}
	if o.InProgressTTL <= 0 {
		o.InProgressTTL = DefaultInProgressTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Memory is a Store held in process memory, for a single tollgate
// instance. It is safe for concurrent use. Expired entries are removed
// lazily, a few on each Begin, so it runs no goroutine.
type Memory struct {
	opts MemoryOptions

	mu      sync.Mutex
	entries map[entryID]*entry
	running *list.List // of *entry still running, oldest claim first
	done    *list.List // of *entry finished, earliest Finish first
}

var _ Store = (*Memory)(nil)

// entryID names one idempotency key of one API key.
type entryID struct{ scope, key string }

// entry is the state of one key. result is nil while the request runs;
// stored results are never modified, so they may be cloned without the
// lock.
type entry struct {
	id          entryID
	fingerprint string
	deadline    time.Time // when the claim or the stored result expires
	result      *Result
	elem        *list.Element // in Memory.running or Memory.done
}

// NewMemory returns an empty Memory store configured by opts.
func NewMemory(opts MemoryOptions) *Memory {
	return &Memory{
		opts:    opts.withDefaults(),
		entries: make(map[entryID]*entry),
		running: list.New(),
		done:    list.New(),
	}
}

// Len returns the number of keys held, running and finished, including
// expired ones not yet swept.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Begin implements Store.
func (m *Memory) Begin(_ context.Context, scope, key, fingerprint string) (Outcome, *Result, error) {
	if !ValidKey(key) {
		return 0, nil, ErrInvalidKey
	}
	id := entryID{scope, key}
	now := m.opts.Now()

	m.mu.Lock()
	m.sweep(now, sweepBatch)
	e := m.live(id, now)
	if e == nil {
		if len(m.entries) >= m.opts.MaxEntries && !m.makeRoom(now) {
			m.mu.Unlock()
			return 0, nil, ErrFull
		}
		e = &entry{id: id, fingerprint: fingerprint, deadline: now.Add(m.opts.InProgressTTL)}
		e.elem = m.running.PushBack(e)
		m.entries[id] = e
		m.mu.Unlock()
		return Started, nil, nil
	}
	stored, efp := e.result, e.fingerprint
	m.mu.Unlock()

	switch {
	case efp != fingerprint:
		return Mismatch, nil, nil
	case stored == nil:
		return InProgress, nil, nil
	}
	r := stored.Clone()
	if r.TooLarge {
		return TooLarge, &r, nil
	}
	return Replay, &r, nil
}

// Finish implements Store.
func (m *Memory) Finish(_ context.Context, scope, key string, r Result) error {
	// Copy before taking the lock: a result may be megabytes.
	var stored Result
	if r.TooLarge || r.Size() > m.opts.MaxResultBytes {
		stored = Result{Status: r.Status, TooLarge: true}
	} else {
		stored = r.Clone()
	}
	id := entryID{scope, key}
	now := m.opts.Now()

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.live(id, now)
	if e == nil || e.result != nil {
		return ErrNotClaimed
	}
	stored.Fingerprint = e.fingerprint
	e.result = &stored
	e.deadline = now.Add(m.opts.Window)
	m.running.Remove(e.elem)
	e.elem = m.done.PushBack(e)
	return nil
}

// Abandon implements Store.
func (m *Memory) Abandon(_ context.Context, scope, key string) error {
	id := entryID{scope, key}
	now := m.opts.Now()

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.live(id, now)
	if e == nil || e.result != nil {
		return ErrNotClaimed
	}
	m.remove(e)
	return nil
}

// live returns the unexpired entry for id, removing it if it has expired.
// m.mu must be held.
func (m *Memory) live(id entryID, now time.Time) *entry {
	e, ok := m.entries[id]
	if !ok {
		return nil
	}
	if !now.Before(e.deadline) {
		m.remove(e)
		return nil
	}
	return e
}

// remove drops e from the map and from its list. m.mu must be held.
func (m *Memory) remove(e *entry) {
	if e.result == nil {
		m.running.Remove(e.elem)
	} else {
		m.done.Remove(e.elem)
	}
	delete(m.entries, e.id)
}

// sweep removes up to limit expired entries from the front of each list (a
// negative limit means no bound). Lists are in deadline order as long as
// the clock does not go backwards; if it does, an entry sweep misses is
// still caught by live. m.mu must be held.
func (m *Memory) sweep(now time.Time, limit int) {
	for _, l := range []*list.List{m.running, m.done} {
		for n := 0; limit < 0 || n < limit; n++ {
			front := l.Front()
			if front == nil {
				break
			}
			e := front.Value.(*entry)
			if now.Before(e.deadline) {
				break
			}
			m.remove(e)
		}
	}
}

// makeRoom frees one slot for a new claim, dropping every expired entry it
// can reach and otherwise the earliest finished one. It reports false if
// every entry is a running claim. m.mu must be held.
func (m *Memory) makeRoom(now time.Time) bool {
	m.sweep(now, -1)
	if len(m.entries) < m.opts.MaxEntries {
		return true
	}
	front := m.done.Front()
	if front == nil {
		return false
	}
	m.remove(front.Value.(*entry))
	return true
}
