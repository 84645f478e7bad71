// Package reqlog writes request log rows to storage off the request path.
// Handlers hand rows to a Writer, which never blocks them; a single
// background goroutine owned by the Writer batches the rows and inserts
// them through a Sink, retrying failed batches briefly.
package reqlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// Sink is where batches of rows go. Store backends satisfy it.
type Sink interface {
	// InsertRequestLogs writes rows in one transaction. It must return
	// promptly once ctx is done and must not keep rows after returning:
	// the Writer reuses the slice.
	InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error
}

// Defaults used for zero Options fields.
const (
	// DefaultQueueSize is the most rows waiting to be written when
	// Options.QueueSize is not positive.
	DefaultQueueSize = 16384
	// DefaultBatchSize is the batch size used when Options.BatchSize is
	// not positive.
	DefaultBatchSize = 512
	// DefaultFlushInterval is the flush interval used when
	// Options.FlushInterval is not positive.
	DefaultFlushInterval = 200 * time.Millisecond
)

// Retry policy for a failed batch: up to maxAttempts inserts, waiting
// retryBase, then twice as long each time, at most retryMax.
const (
	maxAttempts = 4
	retryBase   = 50 * time.Millisecond
	retryMax    = time.Second
)

// Every store backend's request log side is a Sink.
var _ Sink = store.RequestLogs(nil)

// ErrRowsLost is wrapped by the error Close returns when rows queued
// before Close could not be written.
var ErrRowsLost = errors.New("reqlog: rows lost")

// Options configures a Writer. The zero value is ready to use.
type Options struct {
	// QueueSize is how many rows may wait for the background writer; Log
	// drops rows beyond it. Zero or negative means DefaultQueueSize. The
	// queue's memory grows with the rows waiting, a batch at a time, and
	// is returned once a backlog has been written.
	QueueSize int
	// BatchSize is the most rows inserted in one transaction. Zero or
	// negative means DefaultBatchSize; more than QueueSize means
	// QueueSize.
	BatchSize int
	// FlushInterval is the longest a row waits for its batch to fill
	// before it is written anyway. Zero or negative means
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// Logger receives failed-batch reports (never row contents). Nil
	// discards.
	Logger *slog.Logger
	// Retention is how long rows are kept: when positive and the sink
	// implements Pruner, the background goroutine deletes older rows in
	// batches of PruneBatch, between flushes. Zero keeps rows forever.
	Retention time.Duration
	// PruneInterval is how often retention runs while nothing is left to
	// delete. Zero or negative means DefaultPruneInterval.
	PruneInterval time.Duration
	// PruneBatch is the most rows one prune deletes. Zero or negative
	// means DefaultPruneBatch.
	PruneBatch int
	// Now returns the current time for retention. Nil means time.Now.
	Now func() time.Time
}

// Pruner deletes request log rows older than a cutoff, at most limit per
// call, and reports how many it deleted. Store backends satisfy it.
type Pruner interface {
	PruneRequestLogs(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// Every store backend can enforce retention.
var _ Pruner = store.LogPruner(nil)

// Retention defaults.
const (
	// DefaultPruneInterval is the pause between prunes once everything
	// older than the retention was deleted.
	DefaultPruneInterval = 10 * time.Minute
	// DefaultPruneBatch bounds one prune's delete, so a large backlog is
	// deleted in short transactions that leave room for batch inserts.
	DefaultPruneBatch = 5000
)

// Writer queues request log rows and writes them in batches from one
// background goroutine. It is safe for concurrent use. Every row passed to
// Log is eventually counted exactly once in Written or Dropped.
//
// Log fills batch-sized buffers under a mutex and wakes the goroutine
// only when one is full; the goroutine writes each buffer as one batch and
// hands it back for reuse. Buffers are taken as rows arrive and only a few
// are kept once written, so the queue's memory follows the rows waiting
// rather than QueueSize.
type Writer struct {
	sink      Sink
	batchSize int // at most queueSize, so a full batch can always wait
	queueSize int
	interval  time.Duration
	log       *slog.Logger

	mu        sync.Mutex
	closed    bool
	queued    int                  // rows logged and not yet given to the sink
	filling   []store.RequestLog   // the batch Log appends to; nil until a row comes
	full      [][]store.RequestLog // filled batches, oldest first
	free      [][]store.RequestLog // written batches kept for reuse
	lowFree   int                  // fewest buffers in free since the last trimFree
	closeBase uint64               // sinkDropped when Close began

	// taken holds the batches the background goroutine is writing. Only
	// that goroutine uses it.
	taken [][]store.RequestLog

	wake chan struct{} // 1-buffered: a full batch is waiting
	stop chan struct{} // closed by the first Close

	pruner     Pruner // nil: no retention
	retention  time.Duration
	pruneEvery time.Duration
	pruneBatch int
	now        func() time.Time

	abort context.CancelFunc // cancels the background goroutine's context
	done  chan struct{}      // closed when the background goroutine exits

	written     atomic.Uint64
	dropped     atomic.Uint64
	sinkDropped atomic.Uint64 // rows dropped after being taken from the queue
	pruned      atomic.Uint64 // rows deleted by retention
}

// NewWriter returns a Writer sending rows to sink and starts its
// background goroutine. Call Close to stop it.
func NewWriter(sink Sink, opts Options) *Writer {
	w, ctx := newWriter(sink, opts)
	go w.run(ctx)
	return w
}

// newWriter returns a Writer without starting its background goroutine,
// and the context to run it with.
func newWriter(sink Sink, opts Options) (*Writer, context.Context) {
	opts = withDefaults(opts)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		sink:      sink,
		batchSize: min(opts.BatchSize, opts.QueueSize),
		queueSize: opts.QueueSize,
		interval:  opts.FlushInterval,
		log:       opts.Logger,
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		abort:     cancel,
		done:      make(chan struct{}),

		retention:  opts.Retention,
		pruneEvery: opts.PruneInterval,
		pruneBatch: opts.PruneBatch,
		now:        opts.Now,
	}
	if p, ok := sink.(Pruner); ok && opts.Retention > 0 {
		w.pruner = p
	}
	return w, ctx
}

// withDefaults returns opts with zero fields set to their defaults.
func withDefaults(opts Options) Options {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = DefaultPruneInterval
	}
	if opts.PruneBatch <= 0 {
		opts.PruneBatch = DefaultPruneBatch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

// Log queues row for writing. It never waits for I/O and, once the
// Writer holds buffers for the load, does not allocate: if QueueSize
// rows are already waiting, or the Writer is closed, the row is dropped,
// counted in Dropped, and Log returns false.
func (w *Writer) Log(row store.RequestLog) bool {
	w.mu.Lock()
	if w.closed || w.queued >= w.queueSize {
		w.mu.Unlock()
		w.dropped.Add(1)
		return false
	}
	w.queued++
	if w.filling == nil {
		w.filling = w.newBatch()
	}
	w.filling = append(w.filling, row)
	full := len(w.filling) == w.batchSize
	if full {
		w.full = append(w.full, w.filling)
		w.filling = nil
	}
	w.mu.Unlock()
	if full {
		w.signal()
	}
	return true
}

// signal wakes the background goroutine without waiting; a wake-up
// already pending covers this one.
func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close stops accepting rows and waits until every queued row has been
// written, in batches. If ctx ends first, Close abandons the rows not yet
// written and returns once the background goroutine has exited (promptly,
// as long as the Sink honours its ctx). Close returns an error wrapping
// ErrRowsLost (and ctx.Err(), if ctx ended) when rows queued before Close
// were not written. Calling Close again waits for the same shutdown and
// returns nil.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	first := !w.closed
	if first {
		w.closed = true
		w.closeBase = w.sinkDropped.Load()
		close(w.stop)
	}
	base := w.closeBase
	w.mu.Unlock()

	select {
	case <-w.done:
	case <-ctx.Done():
		w.abort()
		<-w.done
	}
	w.abort() // release the context's resources
	if !first {
		return nil
	}
	lost := w.sinkDropped.Load() - base
	switch {
	case lost == 0:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("reqlog: close: %w: %d: %w", ErrRowsLost, lost, ctx.Err())
	default:
		return fmt.Errorf("reqlog: close: %w: %d", ErrRowsLost, lost)
	}
}

// Dropped returns the number of rows dropped so far: rejected by a full
// queue or a closed Writer, or abandoned after failed inserts.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Written returns the number of rows the sink has accepted so far.
func (w *Writer) Written() uint64 { return w.written.Load() }

// Depth returns the number of rows waiting to be written: queued by Log
// and not yet handed to the sink. A batch the sink is writing is not
// counted.
func (w *Writer) Depth() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued
}

// run is the background goroutine. It writes full batches when Log
// reports one waiting, everything waiting when FlushInterval passes and
// on Close, and prunes old rows between flushes. Each FlushInterval it
// also releases buffers that went unused.
func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	var (
		prune  *time.Timer
		pruneC <-chan time.Time // nil without retention: never fires
	)
	if w.pruner != nil {
		// The first prune comes soon after start; each prune re-arms it.
		prune = time.NewTimer(w.interval)
		defer prune.Stop()
		pruneC = prune.C
	}
	for {
		select {
		case <-pruneC:
			prune.Reset(w.prune(ctx))
		case <-w.wake:
			w.writeQueued(ctx, false)
		case <-tick.C:
			w.writeQueued(ctx, true)
			w.trimFree()
		case <-w.stop:
			w.writeQueued(ctx, true)
			w.release()
			return
		}
	}
}
