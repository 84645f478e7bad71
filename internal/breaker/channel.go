package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// channel is one channel's circuit. Its fields are guarded by mu, except
// fast, which mirrors state so that Allow on a closed channel needs no
// lock; fast is written only with mu held.
type channel struct {
	set  *Set // for the normalized options, read only
	fast atomic.Int32

	mu          sync.Mutex
	state       State
	consecutive int           // failures in a row
	w           window        // outcomes, for FailureRatio
	openUntil   time.Time     // when Open ends
	cooldown    time.Duration // the next trip's or failed probe's cooldown
	probing     bool          // a probe is out and has not reported
	probeStart  time.Time     // when the latest probe was let through
	pending     change        // the transition to report after unlocking
}

// change is a state transition; from == to means none.
type change struct {
	from, to State
}

// allow decides one Allow call at now. A probe that has been out for
// staleAfter without reporting no longer holds the probe slot: it is taken
// as abandoned, though a late report from it still counts as a verdict.
func (c *channel) allow(now time.Time, staleAfter time.Duration) (ok, probe bool, retryIn time.Duration) {
	switch c.state {
	case Closed:
		return true, false, 0
	case Open:
		if wait := c.openUntil.Sub(now); wait > 0 {
			return false, false, wait
		}
		c.setState(HalfOpen)
		c.probing = false
	}
	// HalfOpen.
	if c.probing {
		if wait := c.probeStart.Add(staleAfter).Sub(now); wait > 0 {
			return false, false, wait
		}
	}
	c.probing = true
	c.probeStart = now
	return true, true, 0
}

// report records a success or failure; the window is already advanced.
func (c *channel) report(now time.Time, probe, failed bool) {
	switch c.state {
	case Closed:
		c.w.add(failed)
		if !failed {
			c.consecutive = 0
			return
		}
		c.consecutive++
		if c.tripped() {
			c.open(now.Add(c.cooldown))
		}
	case HalfOpen:
		if !probe {
			return // let through before the channel opened; no verdict
		}
		if !failed {
			c.close()
			return
		}
		o := &c.set.opts
		if c.cooldown > o.MaxCooldown/2 {
			c.cooldown = o.MaxCooldown
		} else {
			c.cooldown = min(2*c.cooldown, o.MaxCooldown)
		}
		c.open(now.Add(c.cooldown))
	case Open:
		// A late report from before the channel opened, or from a probe
		// overtaken by CoolDown or by another probe's failure.
	}
}

// tripped reports whether the closed channel's counts call for opening it.
func (c *channel) tripped() bool {
	o := &c.set.opts
	if o.ConsecutiveFailures > 0 && c.consecutive >= o.ConsecutiveFailures {
		return true
	}
	return o.FailureRatio > 0 && c.w.sum.total > 0 && c.w.sum.total >= o.MinRequests &&
		float64(c.w.sum.failures) >= o.FailureRatio*float64(c.w.sum.total)
}

// open opens the channel until the given time and drops any probes.
func (c *channel) open(until time.Time) {
	c.setState(Open)
	c.openUntil = until
	c.probing = false
}

// close closes the channel and forgets its history and doubled cooldown.
func (c *channel) close() {
	c.setState(Closed)
	c.consecutive = 0
	c.w = window{head: c.w.head}
	c.openUntil = time.Time{}
	c.cooldown = c.set.opts.Cooldown
	c.probing = false
}

// setState moves to state to, noting the transition for takeChange.
func (c *channel) setState(to State) {
	if c.pending.from == c.pending.to {
		c.pending.from = c.state
	}
	c.pending.to = to
	c.state = to
	c.fast.Store(int32(to))
}

// takeChange returns and clears the transition noted since the last call.
func (c *channel) takeChange() change {
	ch := c.pending
	c.pending = change{}
	return ch
}
