package retrybudget

import "time"

// buckets is how many slices a window is cut into. The counts cover
// between (buckets-1)/buckets of the window and the whole window,
// depending on how far into the current bucket the clock is.
const buckets = 10

// tally is the count of one bucket.
type tally struct {
	requests, retries int
}

// window is a ring of buckets advanced lazily from the clock. The zero
// window is empty with its newest bucket at epoch 0. Not safe for
// concurrent use; the owner holds a lock.
type window struct {
	head  int64 // epoch of the newest bucket
	ring  [buckets]tally
	total tally // sum over ring
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
		w.total.requests -= b.requests
		w.total.retries -= b.retries
		*b = tally{}
	}
	w.head = epoch
}

// current returns the newest bucket.
func (w *window) current() *tally {
	return &w.ring[w.head%buckets]
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
