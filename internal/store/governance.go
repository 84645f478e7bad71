package store

import (
	"context"
	"time"
)

// Money is an amount in micro-units of the configured currency
// (1 = 0.000001). Prices, costs, budgets and balances all use it.
type Money int64

// Limits are the rate limits, quotas and budget of a key or a group. A
// zero field means "no limit at this level" (a key then inherits its
// group's value; a group's zero means unlimited).
type Limits struct {
	// RPM is requests per minute.
	RPM int64 `json:"rpm,omitempty"`
	// TPM is tokens (prompt plus completion) per minute.
	TPM int64 `json:"tpm,omitempty"`
	// Concurrency is the most requests in flight at once.
	Concurrency int64 `json:"concurrency,omitempty"`
	// DailyRequests, DailyTokens and DailyCost are quotas per day; the day
	// starts at the configured time of day and time zone.
	DailyRequests int64 `json:"daily_requests,omitempty"`
	DailyTokens   int64 `json:"daily_tokens,omitempty"`
	DailyCost     Money `json:"daily_cost,omitempty"`
	// MonthlyBudget caps spend per calendar month (same time zone).
	MonthlyBudget Money `json:"monthly_budget,omitempty"`
}

// Group is a set of keys (a project, team or customer tier) sharing model
// permissions, default limits, a monthly budget and a price multiplier.
type Group struct {
	// Name identifies the group. Required, unique.
	Name string
	// Models lists the allowed model patterns (path.Match globs). Empty
	// means every model.
	Models []string
	// Limits are the group's own limits (MonthlyBudget is the group's
	// budget, shared by its keys) and the defaults its keys inherit.
	Limits Limits
	// PriceMultiplierPPM scales prices for the group's keys, in parts per
	// million: 1000000 is 1.0 (list price), 800000 a 20% discount. Zero
	// means 1.0.
	PriceMultiplierPPM int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
	// Rev is the change sequence number, as for keys.
	Rev int64
}

// Price is a model's price per million tokens.
type Price struct {
	// Model is the canonical model name. Required, unique.
	Model string
	// InputPerM, OutputPerM and CachedInputPerM are prices per million
	// tokens in Money units (micro-units per million tokens).
	InputPerM       Money
	OutputPerM      Money
	CachedInputPerM Money
	UpdatedAt       time.Time
	// Rev is the change sequence number.
	Rev int64
}

// Credit is one entry of an owner's prepaid balance ledger: a top-up
// (positive) or a correction (negative).
type Credit struct {
	// ID is assigned by the store.
	ID int64
	// Owner is who the balance belongs to. Required.
	Owner string
	// Amount is the change.
	Amount Money
	// Note says why (free text, no secrets).
	Note string
	// Time is when it was recorded; the store sets it when zero.
	Time time.Time
	// Rev is the change sequence number.
	Rev int64
}

// Groups stores groups. Implementations are safe for concurrent use.
type Groups interface {
	// PutGroup creates or replaces the group named g.Name and returns it
	// as stored. Name is required and PriceMultiplierPPM must not be
	// negative (ErrInvalid). UpdatedAt is g.UpdatedAt, or the current time
	// if zero. A replaced group keeps its CreatedAt; a new one gets
	// g.CreatedAt, or UpdatedAt if zero. Every put assigns a new Rev, even
	// when nothing changed; g.Rev is ignored.
	PutGroup(ctx context.Context, g Group) (Group, error)
	// GetGroup returns a group by name, or ErrNotFound.
	GetGroup(ctx context.Context, name string) (Group, error)
	// ListGroups returns every group ordered by name.
	ListGroups(ctx context.Context) ([]Group, error)
	// GroupsChangedSince returns groups with Rev > rev, ordered by Rev.
	GroupsChangedSince(ctx context.Context, rev int64) ([]Group, error)
}

// Prices stores the price table. Implementations are safe for concurrent
// use.
type Prices interface {
	// PutPrice creates or replaces the price of p.Model and returns it as
	// stored. Model is required and no price may be negative (ErrInvalid).
	// UpdatedAt is p.UpdatedAt, or the current time if zero. Every put
	// assigns a new Rev; p.Rev is ignored.
	PutPrice(ctx context.Context, p Price) (Price, error)
	// ListPrices returns every price ordered by model.
	ListPrices(ctx context.Context) ([]Price, error)
	// PricesChangedSince returns prices with Rev > rev, ordered by Rev.
	PricesChangedSince(ctx context.Context, rev int64) ([]Price, error)
}

// Balances stores prepaid credit per owner. Spend is the sum of the
// charged costs in the request log (RequestLog.Charged, CostMicros).
// Implementations are safe for concurrent use.
type Balances interface {
	// AddCredit records a ledger entry and returns it with ID, Time and Rev.
	// Owner is required and Amount must not be zero (ErrInvalid). The
	// store assigns a unique ID and a strictly increasing Rev (c.ID and
	// c.Rev are ignored) and sets Time to the current time if it is zero.
	AddCredit(ctx context.Context, c Credit) (Credit, error)
	// CreditsChangedSince returns ledger entries with Rev > rev, by Rev.
	CreditsChangedSince(ctx context.Context, rev int64) ([]Credit, error)
	// OwnerTotals returns, for one owner, the sum of all credits
	// (corrections included) and the sum of the charged costs of all
	// request log rows with that Owner, over all time. An owner with no
	// entries has zero totals, not ErrNotFound. An empty owner is
	// ErrInvalid.
	OwnerTotals(ctx context.Context, owner string) (credited, spent Money, err error)
	// SpendSince sums the charged costs of request log rows with Time at
	// or after since (zero: all time), for the key (keyID != "") or the
	// group (group != ""). Exactly one of keyID and group must be set,
	// otherwise ErrInvalid.
	SpendSince(ctx context.Context, keyID, group string, since time.Time) (Money, error)
}
