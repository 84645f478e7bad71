package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/internal/governance"
	"github.com/tollgate/tollgate/internal/store"
)

// limitError explains a refusal by one of tollgate's own limits, saying
// which limit (scope and dimension) and when to come back, and that it is
// tollgate's limit, not the provider's.
func limitError(le *governance.LimitError) *apiError {
	name := fmt.Sprintf("%s %s %s", le.Scope, le.Dimension, limitValue(le))
	ae := &apiError{Status: http.StatusTooManyRequests, Type: typeRequests, RetryAfter: le.RetryAfter, ResetAt: le.ResetAt, Cause: le}
	switch {
	case le.TooLarge:
		ae.Status, ae.Type, ae.Code, ae.NoRetry = http.StatusBadRequest, typeInvalidRequest, "exceeds_limit", true
		ae.Message = fmt.Sprintf("This request alone needs more than the %s limit allows, so it can never be admitted. Lower max_tokens or shorten the prompt.", name)
	case le.Dimension == governance.DimBalance:
		ae.Status, ae.Type, ae.Code, ae.NoRetry = http.StatusPaymentRequired, typeInsufficient, "insufficient_balance", true
		ae.Message = fmt.Sprintf("The prepaid balance of %q is too low for this request (balance %s). An operator tops it up with `tollgate credits add %s AMOUNT` or POST /admin/credits.",
			le.Owner, formatMoney(store.Money(le.Remaining)), le.Owner)
	case le.Dimension == governance.DimDailyRequests || le.Dimension == governance.DimDailyTokens || le.Dimension == governance.DimDailyCost:
		ae.Type, ae.Code, ae.NoRetry = typeInsufficient, "daily_quota_exceeded", true
		ae.Message = fmt.Sprintf("Your key's daily quota is used up (%s; a tollgate limit, not the provider's). It resets at %s.", name, le.ResetAt.UTC().Format(time.RFC3339))
	case le.Dimension == governance.DimMonthlyBudget:
		ae.Type, ae.Code, ae.NoRetry = typeInsufficient, "budget_exceeded", true
		ae.Message = fmt.Sprintf("The %s monthly budget of %s is spent (a tollgate limit, not the provider's). It resets at %s; an operator can raise it.", le.Scope, formatMoney(store.Money(le.Limit)), le.ResetAt.UTC().Format(time.RFC3339))
	default:
		ae.Code = "rate_limit_exceeded"
		if le.Dimension == governance.DimTPM {
			ae.Type = "tokens"
		}
		wait := "Retry when a request in flight finishes."
		if le.RetryAfter > 0 {
			wait = fmt.Sprintf("Retry after %v.", le.RetryAfter.Round(time.Millisecond))
		}
		ae.Message = fmt.Sprintf("Rate limit reached: %s (a tollgate limit, not the provider's). %s", name, wait)
	}
	return ae
}

// limitValue renders a limit's value in its unit.
func limitValue(le *governance.LimitError) string {
	switch le.Dimension {
	case governance.DimDailyCost, governance.DimMonthlyBudget, governance.DimBalance:
		return formatMoney(store.Money(le.Limit))
	}
	return fmt.Sprint(le.Limit)
}

// formatMoney renders micro-units as a decimal amount, e.g. "12.50".
func formatMoney(m store.Money) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	s := fmt.Sprintf("%s%d.%06d", sign, m/1_000_000, m%1_000_000)
	for len(s) > 0 && s[len(s)-1] == '0' && s[len(s)-3] != '.' {
		s = s[:len(s)-1]
	}
	return s
}
