// Package retrybudget limits retries into each upstream channel to a share
// of the first attempts sent to it over a sliding window, plus a small
// floor, so a failing channel is not hammered by a retry storm while a
// quiet one can still retry.
package retrybudget

import (
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Default values, as returned by DefaultOptions.
const (
	// DefaultRatio is the default Options.Ratio.
	DefaultRatio = 0.2
	// DefaultWindow is the default Options.Window.
	DefaultWindow = 10 * time.Second
	// DefaultMinPerSecond is the default Options.MinPerSecond.
	DefaultMinPerSecond = 1.0
)

// Options configures a Budget. Start from DefaultOptions: Ratio and
// MinPerSecond are taken as given, so zero means zero.
type Options struct {
	// Ratio is the most retries per first attempt into a channel over
	// Window. Zero allows only the floor; negative counts as zero.
	// DefaultOptions sets 0.2.
	Ratio float64
	// Window is the span of the sliding window. It is cut into 10
	// buckets, so the counts cover the last 90% to 100% of it. Zero or
	// negative means DefaultWindow (10s).
	Window time.Duration
	// MinPerSecond is the floor: Window.Seconds()*MinPerSecond retries are
	// allowed in each window whatever the traffic. Zero means no floor;
	// negative counts as zero. DefaultOptions sets 1.
	MinPerSecond float64
	// Channels lists channel names known up front. Other names are added
	// on first use.
	Channels []string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns the recommended options: Ratio 0.2, Window 10s,
// MinPerSecond 1.
func DefaultOptions() Options {
	return Options{Ratio: DefaultRatio, Window: DefaultWindow, MinPerSecond: DefaultMinPerSecond}
}

// Budget tracks first attempts and retries per channel and decides
// whether another retry fits. It is safe for concurrent use: each channel
// has its own lock, and finding a channel takes no lock once it exists.
//
// Every channel name ever used is kept, so names should come from
// configuration, not from clients.
type Budget struct {
	ratio  float64
	floor  float64
	width  time.Duration
	origin time.Time
	now    func() time.Time

	channels atomic.Pointer[map[string]*channel] // copy on write
	addMu    sync.Mutex                          // serializes adding channels
}

// channel is one channel's window.
type channel struct {
	mu sync.Mutex
	w  window
}

// New returns a Budget configured by opts.
func New(opts Options) *Budget {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Budget{
		ratio: max(opts.Ratio, 0),
		floor: opts.Window.Seconds() * max(opts.MinPerSecond, 0),
		width: max(opts.Window/buckets, 1),
		now:   opts.Now,
	}
	b.origin = b.now()
	m := make(map[string]*channel, len(opts.Channels))
	for _, name := range opts.Channels {
		m[name] = &channel{}
	}
	b.channels.Store(&m)
	return b
}

// Request counts a first attempt into channel.
func (b *Budget) Request(channel string) {
	c := b.channel(channel)
	c.mu.Lock()
	c.w.advance(b.epoch())
	c.w.current().requests++
	c.w.total.requests++
	c.mu.Unlock()
}

// TryRetry reports whether a retry into channel fits the budget and, if it
// does, counts it. A caller that gets true should send the retry; one that
// gets false should fail over elsewhere or give up.
func (b *Budget) TryRetry(channel string) bool {
	c := b.channel(channel)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.advance(b.epoch())
	if float64(c.w.total.retries) >= b.allowed(c.w.total.requests) {
		return false
	}
	c.w.current().retries++
	c.w.total.retries++
	return true
}

// Stats returns the first attempts and retries counted for channel over
// the window. An unknown channel has zero of both and is not added.
func (b *Budget) Stats(channel string) (requests, retries int) {
	c, ok := (*b.channels.Load())[channel]
	if !ok {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.advance(b.epoch())
	return c.w.total.requests, c.w.total.retries
}

// allowed returns how many retries the window may hold given its first
// attempts. It is a whole number, so floating-point error in ratio*n
// cannot admit an extra retry.
func (b *Budget) allowed(requests int) float64 {
	return math.Floor(b.ratio*float64(requests) + b.floor)
}

func (b *Budget) epoch() int64 {
	return epochOf(b.now(), b.origin, b.width)
}

// channel returns the state for name, adding it if it is new.
func (b *Budget) channel(name string) *channel {
	if c, ok := (*b.channels.Load())[name]; ok {
		return c
	}
	b.addMu.Lock()
	defer b.addMu.Unlock()
	old := *b.channels.Load()
	if c, ok := old[name]; ok {
		return c
	}
	m := maps.Clone(old)
	c := &channel{}
	m[name] = c
	b.channels.Store(&m)
	return c
}
