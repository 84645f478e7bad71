package governance

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on machines without a zoneinfo database

	"github.com/tollgate/tollgate/internal/store"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDayWindow(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	kolkata := mustZone(t, "Asia/Kolkata") // +05:30, no DST
	six := 6 * time.Hour
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	tests := []struct {
		name       string
		now        time.Time
		dayStart   time.Duration
		loc        *time.Location
		start, end time.Time
	}{
		{"midnight UTC", at(time.UTC, 2025, 6, 18, 12, 0), 0, time.UTC,
			at(time.UTC, 2025, 6, 18, 0, 0), at(time.UTC, 2025, 6, 19, 0, 0)},
		{"06:00 New York, after the start", at(ny, 2025, 6, 18, 6, 1), six, ny,
			at(ny, 2025, 6, 18, 6, 0), at(ny, 2025, 6, 19, 6, 0)},
		{"06:00 New York, a minute before: still yesterday's day", at(ny, 2025, 6, 18, 5, 59), six, ny,
			at(ny, 2025, 6, 17, 6, 0), at(ny, 2025, 6, 18, 6, 0)},
		{"06:00 New York, exactly at the start: a new day", at(ny, 2025, 6, 18, 6, 0), six, ny,
			at(ny, 2025, 6, 18, 6, 0), at(ny, 2025, 6, 19, 6, 0)},
		{"06:00 New York given in UTC", time.Date(2025, 6, 18, 9, 59, 0, 0, time.UTC), six, ny, // 05:59 EDT
			at(ny, 2025, 6, 17, 6, 0), at(ny, 2025, 6, 18, 6, 0)},
		// 2025-03-09 02:00 EST -> 03:00 EDT: this quota day has 23 hours.
		{"06:00 New York across the spring DST change", at(ny, 2025, 3, 8, 12, 0), six, ny,
			at(ny, 2025, 3, 8, 6, 0), at(ny, 2025, 3, 9, 6, 0)},
		{"06:00 New York across the autumn DST change", at(ny, 2025, 11, 2, 3, 0), six, ny,
			at(ny, 2025, 11, 1, 6, 0), at(ny, 2025, 11, 2, 6, 0)},
		{"06:00 Kolkata on the 1st, before the start: last month's last day", at(kolkata, 2025, 3, 1, 5, 0), six, kolkata,
			at(kolkata, 2025, 2, 28, 6, 0), at(kolkata, 2025, 3, 1, 6, 0)},
		{"06:00 Kolkata on New Year's Eve", at(kolkata, 2025, 12, 31, 23, 0), six, kolkata,
			at(kolkata, 2025, 12, 31, 6, 0), at(kolkata, 2026, 1, 1, 6, 0)},
		{"23:30 start, just after", at(time.UTC, 2024, 2, 29, 23, 45), 23*time.Hour + 30*time.Minute, time.UTC,
			at(time.UTC, 2024, 2, 29, 23, 30), at(time.UTC, 2024, 3, 1, 23, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := dayWindow(tt.now, tt.dayStart, tt.loc)
			if !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("dayWindow(%s) = [%s, %s), want [%s, %s)", tt.now, start, end, tt.start, tt.end)
			}
			if tt.now.Before(start) || !tt.now.Before(end) {
				t.Errorf("%s is not inside [%s, %s)", tt.now, start, end)
			}
		})
	}
	if _, end := dayWindow(at(ny, 2025, 3, 8, 12, 0), six, ny); end.Sub(at(ny, 2025, 3, 8, 6, 0)) != 23*time.Hour {
		t.Errorf("the spring DST quota day lasts %s, want 23h", end.Sub(at(ny, 2025, 3, 8, 6, 0)))
	}
}

func TestMonthWindow(t *testing.T) {
	tokyo := mustZone(t, "Asia/Tokyo") // +09:00
	tests := []struct {
		name       string
		now        time.Time
		loc        *time.Location
		start, end time.Time
	}{
		{"mid month", time.Date(2025, 6, 18, 12, 0, 0, 0, time.UTC), time.UTC,
			time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"last nanosecond of January", time.Date(2025, 1, 31, 23, 59, 59, 999_999_999, time.UTC), time.UTC,
			time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"first instant of February", time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), time.UTC,
			time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"leap February", time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC), time.UTC,
			time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"December rolls the year", time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), time.UTC,
			time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		// 2025-06-30 20:00 UTC is already July 1st in Tokyo.
		{"the zone decides the month", time.Date(2025, 6, 30, 20, 0, 0, 0, time.UTC), tokyo,
			time.Date(2025, 7, 1, 0, 0, 0, 0, tokyo), time.Date(2025, 8, 1, 0, 0, 0, 0, tokyo)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := monthWindow(tt.now, tt.loc)
			if !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("monthWindow(%s) = [%s, %s), want [%s, %s)", tt.now, start, end, tt.start, tt.end)
			}
		})
	}
}

// TestDailyQuotaResetsAtDayStart drives a daily request quota across the
// 06:00 New York boundary: refused a minute before with resetAt at 06:00,
// admitted again at 06:00 exactly.
func TestDailyQuotaResetsAtDayStart(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	e, clk := newEngine(t, Options{DayStart: 6 * time.Hour, Location: ny})
	clk.Set(time.Date(2025, 6, 18, 5, 58, 0, 0, ny))
	req := Request{Principal: principal(store.Limits{DailyRequests: 2}), Model: "m"}
	for range 2 {
		admit(t, e, req).Settle(t.Context(), Usage{}, true)
	}
	clk.Advance(time.Minute) // 05:59
	le := refuse(t, e, req)
	reset := time.Date(2025, 6, 18, 6, 0, 0, 0, ny)
	if le.Scope != ScopeKey || le.Dimension != DimDailyRequests || le.Limit != 2 {
		t.Errorf("refusal = %+v, want key daily requests 2", le)
	}
	if !le.ResetAt.Equal(reset) || le.RetryAfter != time.Minute || le.TooLarge {
		t.Errorf("ResetAt %s RetryAfter %s TooLarge %v, want %s, 1m0s, false", le.ResetAt, le.RetryAfter, le.TooLarge, reset)
	}
	clk.Set(reset)
	admit(t, e, req)
}

// TestMonthlyBudgetResetsAtMonthEnd spends a key's budget on the last day
// of a month and spends again on the first of the next.
func TestMonthlyBudgetResetsAtMonthEnd(t *testing.T) {
	tokyo := mustZone(t, "Asia/Tokyo")
	prices := &PriceTable{}
	prices.Set(map[string]store.Price{"m": {Model: "m", OutputPerM: 1_000_000}}) // 1 unit per output token
	e, clk := newEngine(t, Options{Prices: prices, Location: tokyo})
	clk.Set(time.Date(2025, 1, 31, 23, 59, 0, 0, tokyo))
	req := Request{Principal: principal(store.Limits{MonthlyBudget: 100}), Model: "m", MaxTokens: 100}
	a := admit(t, e, req)
	if cost, charged := a.Settle(t.Context(), Usage{CompletionTokens: 100}, true); cost != 100 || !charged {
		t.Fatalf("Settle = %d, %v; want 100, true", cost, charged)
	}
	le := refuse(t, e, req)
	end := time.Date(2025, 2, 1, 0, 0, 0, 0, tokyo)
	if le.Dimension != DimMonthlyBudget || le.Scope != ScopeKey || le.Limit != 100 || !le.ResetAt.Equal(end) || le.TooLarge {
		t.Errorf("refusal = %+v, want key monthly budget 100 resetting at %s", le, end)
	}
	clk.Set(end)
	admit(t, e, req)
}
