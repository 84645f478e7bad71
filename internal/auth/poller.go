package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// poller keeps a cache in step with a store: each refresh pulls the
// records changed since the highest Rev seen so far and hands them to
// apply. Cache and GroupCache each hold one; the cache owns the snapshot,
// the poller only the cursor.
type poller[T any] struct {
	noun     string                                            // "key" or "group", for errors and logs
	fetch    func(ctx context.Context, rev int64) ([]T, error) // records with Rev > rev, ordered by Rev
	revOf    func(T) int64                                     // a record's Rev
	apply    func(recs ...T)                                   // publishes records into the cache
	interval time.Duration                                     // run's poll period; never zero
	log      *slog.Logger                                      // never nil

	mu  sync.Mutex // serialises refresh
	rev int64      // highest Rev pulled by fetch; guarded by mu
}

// refresh pulls and applies the records changed since the last refresh
// (every record on the first call). On error nothing is applied and the
// cursor does not move.
func (p *poller[T]) refresh(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	recs, err := p.fetch(ctx, p.rev)
	if err != nil {
		return fmt.Errorf("auth: refresh %ss since rev %d: %w", p.noun, p.rev, err)
	}
	p.apply(recs...)
	for _, r := range recs {
		p.rev = max(p.rev, p.revOf(r))
	}
	return nil
}

// run calls refresh every interval until ctx is done, logging errors that
// are not caused by ctx ending. It starts no goroutines.
func (p *poller[T]) run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.refresh(ctx); err != nil && ctx.Err() == nil {
			p.log.LogAttrs(ctx, slog.LevelError, "auth: "+p.noun+" cache refresh failed", slog.Any("err", err))
		}
	}
}
