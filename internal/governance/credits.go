package governance

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// CreditSource lists ledger entries; store backends satisfy it.
type CreditSource interface {
	CreditsChangedSince(ctx context.Context, rev int64) ([]store.Credit, error)
}

// CreditCache keeps each owner's credited total in memory, pulling new
// ledger entries from the store, so a top-up made on any instance takes
// effect on every instance within one refresh interval.
type CreditCache struct {
	src      CreditSource
	interval time.Duration
	log      *slog.Logger

	mu     sync.RWMutex
	totals map[string]store.Money
	rev    int64
}

// NewCreditCache returns a cache over src refreshed every interval
// (default 250ms) by Run.
func NewCreditCache(src CreditSource, interval time.Duration, log *slog.Logger) *CreditCache {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CreditCache{src: src, interval: interval, log: log, totals: map[string]store.Money{}}
}

// Refresh applies the ledger entries added since the last refresh.
func (c *CreditCache) Refresh(ctx context.Context) error {
	c.mu.RLock()
	rev := c.rev
	c.mu.RUnlock()
	entries, err := c.src.CreditsChangedSince(ctx, rev)
	if err != nil {
		return fmt.Errorf("loading credits: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		if e.Rev <= c.rev {
			continue
		}
		c.totals[e.Owner] += e.Amount
		c.rev = e.Rev
	}
	return nil
}

// Run refreshes until ctx ends.
func (c *CreditCache) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("refreshing credits failed; using the last known balances", "error", err)
			}
		}
	}
}

// Credited returns owner's credited total and whether the owner has any
// ledger entry.
func (c *CreditCache) Credited(owner string) (store.Money, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.totals[owner]
	return v, ok
}
