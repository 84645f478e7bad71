package breaker

import "time"

// buckets is how many slices a window is cut into. The counts cover
// between (buckets-1)/buckets of the window and the whole window,
// depending on how far into the current bucket the clock is.
const buckets = 10

// tally counts outcomes.
type tally struct {
	failures, total int
}

// window is a ring of outcome buckets advanced lazily from the clock. The
// zero window is empty with its newest bucket at epoch 0. Not safe for
// concurrent use; the owner holds a lock.
type window struct {
	head int64 // epoch of the newest bucket
	ring [buckets]tally
	sum  tally // over ring
}

// advance moves the newest bucket to epoch, emptying the buckets that fall
// out of the window. An epoch at or before head (a clock that stepped
// back) keeps counting into the newest bucket.
func (w *window) advance(epoch int64) {
	if epoch <= w.head {
		return
	}
	if epoch-w.head >= buckets {
		*w = window{head: epoch}
		return
	}
	for e := w.head + 1; e <= epoch; e++ {
		b := &w.ring[e%buckets]
		w.sum.failures -= b.failures
		w.sum.total -= b.total
		*b = tally{}
	}
	w.head = epoch
}

// add counts one outcome in the newest bucket.
func (w *window) add(failed bool) {
	b := &w.ring[w.head%buckets]
	b.total++
	w.sum.total++
	if failed {
		b.failures++
		w.sum.failures++
	}
}

// epochOf returns the bucket number now falls into, counting buckets of
// the given width from origin; times before origin fall into bucket 0.
func epochOf(now, origin time.Time, width time.Duration) int64 {
	d := now.Sub(origin)
	if d <= 0 {
		return 0
	}
	return int64(d / width)
}
