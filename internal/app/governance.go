package app

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/governance"
	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/ratelimit/redislimit"
	"github.com/tollgate/tollgate/internal/store"
)

// buildGovernance wires the limiter (memory or Redis), the caches of
// groups, prices and credits, and the governance engine. The caches are
// refreshed by goroutines the App owns.
func (a *App) buildGovernance(ctx context.Context, cfg config.Config) error {
	var limiter ratelimit.Limiter
	var spend governance.Spend
	switch cfg.Limits.Backend {
	case "redis":
		opts, err := redis.ParseURL(cfg.Limits.Redis.URL.Reveal())
		if err != nil {
			return fmt.Errorf("limits.redis.url: %w", err)
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, cfg.Limits.Redis.Timeout, cfg.Limits.Redis.Timeout
		opts.MaxRetries = -1 // the engine's policy decides; never retry inside the limiter call
		useRedisLogger(a.log, opts)
		a.redis = redis.NewClient(opts)
		limiter = redislimit.New(a.redis, redislimit.Options{})
	default:
		limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{})
		spend = a.Store // in-process counters start empty: seed money counters from the store
	}
	loc, err := time.LoadLocation(cfg.Limits.TimeZone)
	if err != nil {
		return fmt.Errorf("limits.time_zone: %w", err)
	}
	a.Groups = auth.NewGroupCache(a.Store, auth.GroupCacheOptions{Interval: cfg.Keys.RefreshInterval, Logger: a.log})
	if err := a.Groups.Refresh(ctx); err != nil {
		return fmt.Errorf("loading groups: %w", err)
	}
	a.Credits = governance.NewCreditCache(a.Store, cfg.Keys.RefreshInterval, a.log)
	if err := a.Credits.Refresh(ctx); err != nil {
		return err
	}
	a.prices = &priceCache{src: a.Store, table: &governance.PriceTable{}, base: map[string]store.Price{}}
	for model, p := range cfg.Prices {
		sp, err := parsePrice(model, p)
		if err != nil {
			return err
		}
		a.prices.base[model] = sp
	}
	if err := a.prices.refresh(ctx); err != nil {
		return err
	}
	models := map[string]store.Limits{}
	for name, l := range cfg.Limits.Models {
		models[name] = store.Limits{RPM: l.RPM, TPM: l.TPM, Concurrency: l.Concurrency}
	}
	g := cfg.Limits.Global
	a.Governor = governance.New(governance.Options{
		Limiter: limiter, Groups: a.Groups, Prices: a.prices.table, Credits: a.Credits, Spend: spend,
		Global: store.Limits{RPM: g.RPM, TPM: g.TPM, Concurrency: g.Concurrency}, Models: models,
		DayStart: cfg.Limits.DayStartOffset(), Location: loc, DefaultMaxTokens: cfg.Limits.DefaultMaxTokens,
		FailOpen: cfg.Limits.Redis.OnError == "fail_open", Timeout: cfg.Limits.Redis.Timeout, Logger: a.log,
	})
	return nil
}

// runCaches refreshes the governance caches until ctx ends.
func (a *App) runCaches(ctx context.Context, interval time.Duration) {
	a.wg.Go(func() { a.Groups.Run(ctx) })
	a.wg.Go(func() { a.Credits.Run(ctx) })
	a.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.prices.refresh(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("refreshing prices failed; using the last known prices", "error", err)
				}
			}
		}
	})
}

func parsePrice(model string, p config.Price) (store.Price, error) {
	sp := store.Price{Model: model}
	for _, f := range []struct {
		name string
		in   string
		out  *store.Money
	}{{"input", p.Input, &sp.InputPerM}, {"output", p.Output, &sp.OutputPerM}, {"cached_input", p.CachedInput, &sp.CachedInputPerM}} {
		if f.in == "" {
			continue
		}
		v, err := money.Parse(f.in)
		if err != nil {
			return sp, fmt.Errorf("prices.%s.%s: %w", model, f.name, err)
		}
		*f.out = v
	}
	return sp, nil
}

// priceCache merges the configured prices with those in the store (which
// win) into the engine's table, pulling changes from the store.
type priceCache struct {
	src interface {
		PricesChangedSince(ctx context.Context, rev int64) ([]store.Price, error)
	}
	table *governance.PriceTable
	base  map[string]store.Price
	rev   int64
	db    map[string]store.Price
}

func (p *priceCache) refresh(ctx context.Context) error {
	changed, err := p.src.PricesChangedSince(ctx, p.rev)
	if err != nil {
		return fmt.Errorf("loading prices: %w", err)
	}
	if len(changed) == 0 && p.db != nil {
		return nil
	}
	if p.db == nil {
		p.db = map[string]store.Price{}
	}
	for _, c := range changed {
		p.db[c.Model] = c
		p.rev = max(p.rev, c.Rev)
	}
	merged := make(map[string]store.Price, len(p.base)+len(p.db))
	for k, v := range p.base {
		merged[k] = v
	}
	for k, v := range p.db {
		merged[k] = v
	}
	p.table.Set(merged)
	return nil
}
