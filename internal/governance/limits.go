package governance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
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
func (e *Engine) build(ctx context.Context, a *Admission, req *Request, g *store.Group) error {
	p := &req.Principal
	keyL := effective(p.Limits, g.Limits)
	a.addRates(ScopeKey, "k:"+p.KeyID, keyL)
	if p.Group != "" {
		a.addRates(ScopeGroup, "g:"+p.Group, g.Limits)
	}
	a.addRates(ScopeModel, "m:"+req.Model, e.opts.Models[req.Model])
	a.addRates(ScopeGlobal, "all", e.opts.Global)
	if err := e.addDaily(ctx, a, keyL); err != nil {
		return err
	}
	if err := e.addMonthly(ctx, a, keyL, p, g); err != nil {
		return err
	}
	return e.addBalance(ctx, a)
}

// add appends one counter.
func (a *Admission) add(d dim, l ratelimit.Limit) {
	a.dims = append(a.dims, d)
	a.limits = append(a.limits, l)
}

// addRates adds the request, token and concurrency limits of one scope.
func (a *Admission) addRates(scope, id string, l store.Limits) {
	if l.RPM > 0 {
		a.add(dim{scope, DimRPM, l.RPM, unitRequests}, ratelimit.Limit{Key: id + ":rpm", Kind: ratelimit.Rate, Limit: l.RPM, Period: time.Minute, Cost: 1})
	}
	if l.TPM > 0 {
		a.add(dim{scope, DimTPM, l.TPM, unitTokens}, ratelimit.Limit{Key: id + ":tpm", Kind: ratelimit.Rate, Limit: l.TPM, Period: time.Minute, Cost: min(a.estTokens, l.TPM+1)})
	}
	if l.Concurrency > 0 {
		a.add(dim{scope, DimConcurrency, l.Concurrency, unitSlots}, ratelimit.Limit{Key: id + ":conc", Kind: ratelimit.Concurrency, Limit: l.Concurrency})
	}
}

// addDaily adds the key's daily quotas; the day is only computed when one
// is set.
func (e *Engine) addDaily(ctx context.Context, a *Admission, keyL store.Limits) error {
	if keyL.DailyRequests <= 0 && keyL.DailyTokens <= 0 && keyL.DailyCost <= 0 {
		return nil
	}
	id := a.keyID
	start, end := dayWindow(a.now, e.opts.DayStart, e.opts.Location)
	day := "k:" + id + ":day" + strconv.FormatInt(start.Unix(), 10)
	if keyL.DailyRequests > 0 {
		a.add(dim{ScopeKey, DimDailyRequests, keyL.DailyRequests, unitRequests}, ratelimit.Limit{Key: day + ":req", Kind: ratelimit.Quota, Limit: keyL.DailyRequests, Until: end, Cost: 1})
	}
	if keyL.DailyTokens > 0 {
		a.add(dim{ScopeKey, DimDailyTokens, keyL.DailyTokens, unitTokens}, ratelimit.Limit{Key: day + ":tok", Kind: ratelimit.Quota, Limit: keyL.DailyTokens, Until: end, Cost: min(a.estTokens, keyL.DailyTokens+1)})
	}
	if keyL.DailyCost <= 0 {
		return nil
	}
	return e.addMoney(ctx, a, dim{ScopeKey, DimDailyCost, int64(keyL.DailyCost), unitMoney}, day+":cost", end,
		func(ctx context.Context) (store.Money, error) { return e.opts.Spend.SpendSince(ctx, id, "", start) })
}

// addMonthly adds the key's and the group's monthly budgets.
func (e *Engine) addMonthly(ctx context.Context, a *Admission, keyL store.Limits, p *auth.Principal, g *store.Group) error {
	groupBudget := p.Group != "" && g.Limits.MonthlyBudget > 0
	if keyL.MonthlyBudget <= 0 && !groupBudget {
		return nil
	}
	start, end := monthWindow(a.now, e.opts.Location)
	month := strconv.FormatInt(start.Unix(), 10)
	keyID, group := p.KeyID, p.Group
	if keyL.MonthlyBudget > 0 {
		if err := e.addMoney(ctx, a, dim{ScopeKey, DimMonthlyBudget, int64(keyL.MonthlyBudget), unitMoney}, "k:"+keyID+":month"+month, end,
			func(ctx context.Context) (store.Money, error) {
				return e.opts.Spend.SpendSince(ctx, keyID, "", start)
			}); err != nil {
			return err
		}
	}
	if !groupBudget {
		return nil
	}
	return e.addMoney(ctx, a, dim{ScopeGroup, DimMonthlyBudget, int64(g.Limits.MonthlyBudget), unitMoney}, "g:"+group+":month"+month, end,
		func(ctx context.Context) (store.Money, error) {
			return e.opts.Spend.SpendSince(ctx, "", group, start)
		})
}

// addBalance adds the owner's prepaid balance, when the owner has credits.
func (e *Engine) addBalance(ctx context.Context, a *Admission) error {
	owner := a.owner
	if owner == "" {
		return nil
	}
	credited, ok := e.opts.Credits.Credited(owner)
	if !ok {
		return nil
	}
	return e.addMoney(ctx, a, dim{ScopeOwner, DimBalance, int64(credited), unitMoney}, "o:"+owner+":balance", time.Time{},
		func(ctx context.Context) (store.Money, error) {
			_, spent, err := e.opts.Spend.OwnerTotals(ctx, owner)
			return spent, err
		})
}

// addMoney adds a money counter: a quota until the window's end, or a
// balance when until is zero. In-process counters start empty, so their
// limit is lowered by what was spent before this process first used them.
func (e *Engine) addMoney(ctx context.Context, a *Admission, d dim, key string, until time.Time, seed func(context.Context) (store.Money, error)) error {
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
	a.add(d, l)
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
