package reqlog

import (
	"context"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// flush inserts batch, retrying failures with a capped exponential backoff
// that stops early when ctx is done. Rows that cannot be written are
// counted as dropped.
func (w *Writer) flush(ctx context.Context, batch []store.RequestLog) {
	if len(batch) == 0 {
		return
	}
	n := uint64(len(batch))
	backoff := retryBase
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			w.drop(n)
			return
		}
		err := w.sink.InsertRequestLogs(ctx, batch)
		if err == nil {
			w.written.Add(n)
			return
		}
		if attempt >= maxAttempts || ctx.Err() != nil {
			w.log.LogAttrs(ctx, slog.LevelError, "reqlog: dropping request log batch",
				slog.Int("rows", len(batch)), slog.Int("attempt", attempt), slog.Any("err", err))
			w.drop(n)
			return
		}
		w.log.LogAttrs(ctx, slog.LevelWarn, "reqlog: request log batch failed, retrying",
			slog.Int("rows", len(batch)), slog.Int("attempt", attempt),
			slog.Duration("backoff", backoff), slog.Any("err", err))
		if !sleep(ctx, backoff) {
			w.drop(n)
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// drop counts n rows dequeued but not written.
func (w *Writer) drop(n uint64) {
	w.dropped.Add(n)
	w.sinkDropped.Add(n)
}

// sleep waits for d or until ctx is done, reporting whether the full
// duration passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// prune deletes one batch of rows older than the retention and returns
// when to prune next: soon (after FlushInterval, so batch inserts go
// first) while a full batch was deleted, else after PruneInterval.
func (w *Writer) prune(ctx context.Context) time.Duration {
	cutoff := w.now().Add(-w.retention)
	n, err := w.pruner.PruneRequestLogs(ctx, cutoff, w.pruneBatch)
	if err != nil {
		if ctx.Err() == nil {
			w.log.LogAttrs(ctx, slog.LevelWarn, "reqlog: deleting old request log rows failed",
				slog.Time("cutoff", cutoff), slog.Any("err", err))
		}
		return w.pruneEvery
	}
	w.pruned.Add(uint64(n))
	if n >= int64(w.pruneBatch) {
		return w.interval
	}
	return w.pruneEvery
}

// Pruned returns the number of rows retention has deleted so far.
func (w *Writer) Pruned() uint64 { return w.pruned.Load() }
