package reqlog

import (
	"context"

	"github.com/tollgate/tollgate/internal/store"
)

// keepFree is how many written batch buffers are kept for reuse however
// long they go unused; steady load cycles through a couple. Buffers
// beyond them, which a backlog needed, are kept while bursts keep using
// them and left to the garbage collector once a whole FlushInterval went
// by without needing them, so a backlog's memory is returned after it
// has been written.
const keepFree = 2

// newBatch returns an empty buffer for one batch, reusing a written one
// if any is kept. The caller holds w.mu.
func (w *Writer) newBatch() []store.RequestLog {
	n := len(w.free)
	if n == 0 {
		w.lowFree = 0
		return make([]store.RequestLog, 0, w.batchSize)
	}
	b := w.free[n-1]
	w.free[n-1] = nil
	w.free = w.free[:n-1]
	w.lowFree = min(w.lowFree, n-1)
	return b
}

// trimFree releases the kept buffers beyond keepFree that no Log needed
// since the last trim. The background goroutine calls it every
// FlushInterval.
func (w *Writer) trimFree() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for n := min(w.lowFree, len(w.free)-keepFree); n > 0; n-- {
		w.free[len(w.free)-1] = nil
		w.free = w.free[:len(w.free)-1]
	}
	w.lowFree = len(w.free)
}

// writeQueued writes the full batches waiting, in order, and with all
// set also the batch Log is filling. A wake-up left over after a tick
// finds nothing to write.
func (w *Writer) writeQueued(ctx context.Context, all bool) {
	for _, b := range w.take(all) {
		w.send(ctx, b)
		w.reuse(b)
	}
	clear(w.taken)
	w.taken = w.taken[:0]
}

// take moves the full batches, and with all set the batch being filled,
// from the queue to w.taken and returns them.
func (w *Writer) take(all bool) [][]store.RequestLog {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.taken = append(w.taken, w.full...)
	clear(w.full)
	w.full = w.full[:0]
	if all && len(w.filling) > 0 {
		w.taken = append(w.taken, w.filling)
		w.filling = nil
	}
	return w.taken
}

// send counts batch out of the queued rows, so Log may queue more in its
// place while the sink writes it, and flushes it.
func (w *Writer) send(ctx context.Context, batch []store.RequestLog) {
	w.mu.Lock()
	w.queued -= len(batch)
	w.mu.Unlock()
	w.flush(ctx, batch)
}

// reuse clears a written batch, so its rows' strings can be collected,
// and keeps its buffer for Log; trimFree releases the surplus.
func (w *Writer) reuse(batch []store.RequestLog) {
	clear(batch)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.free = append(w.free, batch[:0])
}

// release drops every buffer once the Writer is closed and drained.
func (w *Writer) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.filling, w.full, w.free = nil, nil, nil
	w.taken = nil
}
