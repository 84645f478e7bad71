package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

// limitFlags are the rate-limit, quota and budget flags shared by keys and
// groups. Only the flags given on the command line change a Limits.
type limitFlags struct {
	fs *flag.FlagSet
	// ints and amounts hold the raw flag text by flag name.
	ints    map[string]*string
	amounts map[string]*string
}

// flagDoc is a flag's name and usage text.
type flagDoc struct{ name, usage string }

// intLimitFlags returns the whole-number limit flags.
func intLimitFlags() []flagDoc {
	return []flagDoc{
		{"rpm", "requests per `minute` (0: no limit here)"},
		{"tpm", "tokens per `minute` (0: no limit here)"},
		{"concurrency", "most `requests` in flight at once (0: no limit here)"},
		{"daily-requests", "requests per `day` (0: no quota here)"},
		{"daily-tokens", "tokens per `day` (0: no quota here)"},
	}
}

// moneyLimitFlags returns the currency-amount limit flags.
func moneyLimitFlags() []flagDoc {
	return []flagDoc{
		{"daily-cost", "spend per day as a currency `amount`, e.g. 12.50 (0: no quota here)"},
		{"monthly-budget", "spend per calendar month as a currency `amount`, e.g. 500 (0: no budget here)"},
	}
}

// addLimitFlags registers the limit flags on fs.
func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	lf := &limitFlags{fs: fs, ints: map[string]*string{}, amounts: map[string]*string{}}
	for _, f := range intLimitFlags() {
		lf.ints[f.name] = fs.String(f.name, "", f.usage)
	}
	for _, f := range moneyLimitFlags() {
		lf.amounts[f.name] = fs.String(f.name, "", f.usage)
	}
	return lf
}

// apply changes the fields of l whose flags were given, after parsing.
// Bad values are usage errors.
func (lf *limitFlags) apply(l *store.Limits) error {
	set := setFlags(lf.fs)
	for _, f := range intLimitFlags() {
		name, p := f.name, lf.ints[f.name]
		if !set[name] {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(*p), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: --%s wants a whole number of at least 0, got %q", errUsage, name, *p)
		}
		*intLimitField(l, name) = n
	}
	for _, f := range moneyLimitFlags() {
		name, p := f.name, lf.amounts[f.name]
		if !set[name] {
			continue
		}
		m, err := parseAmount(name, *p)
		if err != nil {
			return err
		}
		if m < 0 {
			return fmt.Errorf("%w: --%s must not be negative, got %s", errUsage, name, *p)
		}
		*moneyLimitField(l, name) = m
	}
	return nil
}

func intLimitField(l *store.Limits, name string) *int64 {
	switch name {
	case "rpm":
		return &l.RPM
	case "tpm":
		return &l.TPM
	case "concurrency":
		return &l.Concurrency
	case "daily-requests":
		return &l.DailyRequests
	default: // "daily-tokens"
		return &l.DailyTokens
	}
}

func moneyLimitField(l *store.Limits, name string) *store.Money {
	if name == "daily-cost" {
		return &l.DailyCost
	}
	return &l.MonthlyBudget
}

// parseAmount parses a currency amount given with --name, exactly.
func parseAmount(name, s string) (store.Money, error) {
	m, err := money.Parse(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%w: --%s wants a currency amount such as 12.50 (at most 6 decimal places), got %q", errUsage, name, s)
	}
	return m, nil
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// limitsView is store.Limits as the CLI prints it: money as decimal
// strings, unset limits left out.
type limitsView struct {
	RPM           int64        `json:"rpm,omitempty"`
	TPM           int64        `json:"tpm,omitempty"`
	Concurrency   int64        `json:"concurrency,omitempty"`
	DailyRequests int64        `json:"daily_requests,omitempty"`
	DailyTokens   int64        `json:"daily_tokens,omitempty"`
	DailyCost     money.Amount `json:"daily_cost,omitempty"`
	MonthlyBudget money.Amount `json:"monthly_budget,omitempty"`
}

func limitsViewOf(l store.Limits) limitsView {
	return limitsView{RPM: l.RPM, TPM: l.TPM, Concurrency: l.Concurrency, DailyRequests: l.DailyRequests,
		DailyTokens: l.DailyTokens, DailyCost: money.Amount(l.DailyCost), MonthlyBudget: money.Amount(l.MonthlyBudget)}
}

// String renders the limits that are set, e.g. "rpm=60 daily-cost=5.00",
// or "-" when none is.
func (v limitsView) String() string {
	var parts []string
	for _, f := range []struct {
		name string
		n    int64
	}{{"rpm", v.RPM}, {"tpm", v.TPM}, {"concurrency", v.Concurrency}, {"daily-requests", v.DailyRequests}, {"daily-tokens", v.DailyTokens}} {
		if f.n != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, f.n))
		}
	}
	if v.DailyCost != 0 {
		parts = append(parts, "daily-cost="+money.Format(store.Money(v.DailyCost)))
	}
	if v.MonthlyBudget != 0 {
		parts = append(parts, "monthly-budget="+money.Format(store.Money(v.MonthlyBudget)))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
