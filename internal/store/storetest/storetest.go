// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's tests call Exercise with a function that opens a new,
// empty store; the suite runs one sub-test per behaviour.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// Exercise runs the conformance suite against the backend opened by open.
// open must return a new, empty store each time it is called; Exercise
// closes it when the sub-test that opened it ends. Times and durations used
// by the suite are whole microseconds, the finest precision a backend must
// keep.
func Exercise(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Keys", func(t *testing.T) { exerciseKeys(t, fresh) })
	t.Run("UpdateKey", func(t *testing.T) { exerciseUpdateKey(t, fresh) })
	t.Run("RequestLogs", func(t *testing.T) { exerciseLogs(t, fresh) })
	t.Run("Attempts", func(t *testing.T) { exerciseAttempts(t, fresh) })
	t.Run("Bodies", func(t *testing.T) { exerciseBodies(t, fresh) })
	t.Run("Usage", func(t *testing.T) { exerciseUsage(t, fresh) })
	t.Run("Prune", func(t *testing.T) { exercisePrune(t, fresh) })
	t.Run("Groups", func(t *testing.T) { exerciseGroups(t, fresh) })
	t.Run("Prices", func(t *testing.T) { exercisePrices(t, fresh) })
	t.Run("Balances", func(t *testing.T) { exerciseBalances(t, fresh) })
}

// base is a microsecond-aligned reference time used throughout the suite.
var base = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// keyN returns a distinct, valid key record numbered n.
func keyN(n int) store.Key {
	return store.Key{
		ID:        fmt.Sprintf("key_%016x", n),
		Name:      fmt.Sprintf("key-%d", n),
		Hash:      fmt.Sprintf("%064x", n),
		Last4:     fmt.Sprintf("%04d", n%10000),
		CreatedAt: at(n),
	}
}

// diffKey describes how got differs from want, or returns "" if they are
// equal. Rev is compared only when want.Rev is non-zero.
func diffKey(got, want store.Key) string {
	var d []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w))
		}
	}
	check("ID", got.ID == want.ID, got.ID, want.ID)
	check("Name", got.Name == want.Name, got.Name, want.Name)
	check("Hash", got.Hash == want.Hash, got.Hash, want.Hash)
	check("Last4", got.Last4 == want.Last4, got.Last4, want.Last4)
	check("Models", slices.Equal(got.Models, want.Models), got.Models, want.Models)
	check("Admin", got.Admin == want.Admin, got.Admin, want.Admin)
	check("Owner", got.Owner == want.Owner, got.Owner, want.Owner)
	check("Group", got.Group == want.Group, got.Group, want.Group)
	check("Env", got.Env == want.Env, got.Env, want.Env)
	check("IPAllow", slices.Equal(got.IPAllow, want.IPAllow), got.IPAllow, want.IPAllow)
	check("Limits", got.Limits == want.Limits, got.Limits, want.Limits)
	check("LogBodies", got.LogBodies == want.LogBodies, got.LogBodies, want.LogBodies)
	check("ExpiresAt", got.ExpiresAt.Equal(want.ExpiresAt), got.ExpiresAt, want.ExpiresAt)
	check("RevokedAt", got.RevokedAt.Equal(want.RevokedAt), got.RevokedAt, want.RevokedAt)
	check("CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt)
	check("UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt), got.UpdatedAt, want.UpdatedAt)
	if want.Rev != 0 {
		check("Rev", got.Rev == want.Rev, got.Rev, want.Rev)
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// mustCreate creates k and fails the test on error.
func mustCreate(t *testing.T, s store.Store, k store.Key) store.Key {
	t.Helper()
	got, err := s.CreateKey(context.Background(), k)
	if err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
	return got
}

// fullLimits returns Limits with every field set to a distinct value.
func fullLimits() store.Limits {
	return store.Limits{
		RPM: 60, TPM: 90000, Concurrency: 4,
		DailyRequests: 1000, DailyTokens: 2000000, DailyCost: 5000000, MonthlyBudget: 100000000,
	}
}

// aboutNow reports whether t lies within a second of the window from
// before to now, for times a store fills in itself.
func aboutNow(t, before time.Time) bool {
	return !t.Before(before.Add(-time.Second)) && !t.After(time.Now().Add(time.Second))
}

// ids returns the IDs of keys in order.
func ids(keys []store.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}
