package governance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/ratelimit"
	"github.com/tollgate/tollgate/internal/store"
)

// Dimensions of a limit, as named in errors ("key RPM 60").
const (
	DimRPM           = "RPM"
	DimTPM           = "TPM"
	DimConcurrency   = "concurrency"
	DimDailyRequests = "daily requests"
	DimDailyTokens   = "daily tokens"
	DimDailyCost     = "daily cost"
	DimMonthlyBudget = "monthly budget"
	DimBalance       = "balance"
)

// Scopes of a limit.
const (
	ScopeKey    = "key"
	ScopeGroup  = "group"
	ScopeModel  = "model"
	ScopeGlobal = "global"
	ScopeOwner  = "owner"
)

// unit says what a counter counts, which decides its settled amount.
type unit int

const (
	unitRequests unit = iota
	unitTokens
	unitMoney
	unitSlots
)

// dim describes one counter of an admission.
type dim struct {
	scope string
	name  string
	limit int64 // the configured value, before any seed
	unit  unit
}

// build lists every counter that applies to the request.
func (e *Engine) build(ctx context.Context, a *Admission) error {
	p, g := a.req.Principal, a.group
	keyL := effective(p.Limits, g.Limits)
	add := func(d dim, l ratelimit.Limit) {
		a.dims = append(a.dims, d)
		a.limits = append(a.limits, l)
	}
	rates := func(scope, id string, l store.Limits) {
		if l.RPM > 0 {
			add(dim{scope, DimRPM, l.RPM, unitRequests}, ratelimit.Limit{Key: id + ":rpm", Kind: ratelimit.Rate, Limit: l.RPM, Period: time.Minute, Cost: 1})
		}
		if l.TPM > 0 {
			add(dim{scope, DimTPM, l.TPM, unitTokens}, ratelimit.Limit{Key: id + ":tpm", Kind: ratelimit.Rate, Limit: l.TPM, Period: time.Minute, Cost: min(a.estTokens, l.TPM+1)})
		}
		if l.Concurrency > 0 {
			add(dim{scope, DimConcurrency, l.Concurrency, unitSlots}, ratelimit.Limit{Key: id + ":conc", Kind: ratelimit.Concurrency, Limit: l.Concurrency})
		}
	}
	rates(ScopeKey, "k:"+p.KeyID, keyL)
	if p.Group != "" {
		rates(ScopeGroup, "g:"+p.Group, g.Limits)
	}
	rates(ScopeModel, "m:"+a.req.Model, e.opts.Models[a.req.Model])
	rates(ScopeGlobal, "all", e.opts.Global)

	dayStart, dayEnd := dayWindow(a.now, e.opts.DayStart, e.opts.Location)
	day := "k:" + p.KeyID + ":day" + strconv.FormatInt(dayStart.Unix(), 10)
	if keyL.DailyRequests > 0 {
		add(dim{ScopeKey, DimDailyRequests, keyL.DailyRequests, unitRequests}, ratelimit.Limit{Key: day + ":req", Kind: ratelimit.Quota, Limit: keyL.DailyRequests, Until: dayEnd, Cost: 1})
	}
	if keyL.DailyTokens > 0 {
		add(dim{ScopeKey, DimDailyTokens, keyL.DailyTokens, unitTokens}, ratelimit.Limit{Key: day + ":tok", Kind: ratelimit.Quota, Limit: keyL.DailyTokens, Until: dayEnd, Cost: min(a.estTokens, keyL.DailyTokens+1)})
	}
	money := func(d dim, key string, until time.Time, seed func(context.Context) (store.Money, error)) error {
		limit := d.limit
		if e.opts.Spend != nil {
			spent, err := e.seed(ctx, key, seed)
			if err != nil {
				return err
			}
			limit = max(limit-int64(spent), 0)
		}
		l := ratelimit.Limit{Key: key, Kind: ratelimit.Quota, Limit: limit, Until: until, Cost: min(int64(a.estCost), limit+1)}
		if until.IsZero() {
			l.Kind = ratelimit.Balance
		}
		add(d, l)
		return nil
	}
	if keyL.DailyCost > 0 {
		if err := money(dim{ScopeKey, DimDailyCost, int64(keyL.DailyCost), unitMoney}, day+":cost", dayEnd,
			func(ctx context.Context) (store.Money, error) {
				return e.opts.Spend.SpendSince(ctx, p.KeyID, "", dayStart)
			}); err != nil {
			return err
		}
	}
	monthStart, monthEnd := monthWindow(a.now, e.opts.Location)
	month := strconv.FormatInt(monthStart.Unix(), 10)
	if keyL.MonthlyBudget > 0 {
		if err := money(dim{ScopeKey, DimMonthlyBudget, int64(keyL.MonthlyBudget), unitMoney}, "k:"+p.KeyID+":month"+month, monthEnd,
			func(ctx context.Context) (store.Money, error) {
				return e.opts.Spend.SpendSince(ctx, p.KeyID, "", monthStart)
			}); err != nil {
			return err
		}
	}
	if p.Group != "" && g.Limits.MonthlyBudget > 0 {
		if err := money(dim{ScopeGroup, DimMonthlyBudget, int64(g.Limits.MonthlyBudget), unitMoney}, "g:"+p.Group+":month"+month, monthEnd,
			func(ctx context.Context) (store.Money, error) {
				return e.opts.Spend.SpendSince(ctx, "", p.Group, monthStart)
			}); err != nil {
			return err
		}
	}
	if p.Owner != "" {
		if credited, ok := e.opts.Credits.Credited(p.Owner); ok {
			if err := money(dim{ScopeOwner, DimBalance, int64(credited), unitMoney}, "o:"+p.Owner+":balance", time.Time{},
				func(ctx context.Context) (store.Money, error) {
					_, spent, err := e.opts.Spend.OwnerTotals(ctx, p.Owner)
					return spent, err
				}); err != nil {
				return err
			}
		}
	}
	return nil
}

// seed returns what was spent on a money counter before this process
// first used it, reading the store only the first time.
func (e *Engine) seed(ctx context.Context, key string, load func(context.Context) (store.Money, error)) (store.Money, error) {
	if v, ok := e.seeds.Load(key); ok {
		return v.(store.Money), nil
	}
	spent, err := load(ctx)
	if err != nil {
		return 0, fmt.Errorf("governance: reading past spend: %w", err)
	}
	v, _ := e.seeds.LoadOrStore(key, spent)
	return v.(store.Money), nil
}

// effective returns a key's limits: its own where set and no looser than
// the group's, else the group's. A key may tighten its group, never loosen.
func effective(k, g store.Limits) store.Limits {
	pick := func(kv, gv int64) int64 {
		switch {
		case kv > 0 && (gv == 0 || kv < gv):
			return kv
		default:
			return gv
		}
	}
	return store.Limits{
		RPM: pick(k.RPM, g.RPM), TPM: pick(k.TPM, g.TPM), Concurrency: pick(k.Concurrency, g.Concurrency),
		DailyRequests: pick(k.DailyRequests, g.DailyRequests), DailyTokens: pick(k.DailyTokens, g.DailyTokens),
		DailyCost:     store.Money(pick(int64(k.DailyCost), int64(g.DailyCost))),
		MonthlyBudget: k.MonthlyBudget,
	}
}
