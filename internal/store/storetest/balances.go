package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// diffCredit describes how got differs from want, or returns "". ID and
// Rev are compared only when non-zero in want.
func diffCredit(got, want store.Credit) string {
	if !got.Time.Equal(want.Time) {
		return fmt.Sprintf("Time: got %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if want.ID == 0 {
		got.ID = 0
	}
	if want.Rev == 0 {
		got.Rev = 0
	}
	if got != want {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

// mustAddCredit records c and fails the test on error.
func mustAddCredit(t *testing.T, s store.Store, c store.Credit) store.Credit {
	t.Helper()
	got, err := s.AddCredit(context.Background(), c)
	if err != nil {
		t.Fatalf("AddCredit(%+v): %v", c, err)
	}
	return got
}

// spendRow returns a request log row for the spend tests.
func spendRow(id, keyID, owner, group string, n int, cost store.Money, charged bool) store.RequestLog {
	return store.RequestLog{
		RequestID: id, Time: at(n), KeyID: keyID, Owner: owner, Group: group,
		Status: 200, CostMicros: cost, Charged: charged,
	}
}

// exerciseBalances checks every store.Balances method.
func exerciseBalances(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("AddCredit", func(t *testing.T) {
		s := fresh(t)
		entries := []store.Credit{
			{Owner: "alice", Amount: 5000000, Note: "top-up", Time: at(1)},
			{Owner: "bob", Amount: 700, Time: at(2).In(time.FixedZone("X", 5*3600))},
			{Owner: "alice", Amount: -250000, Note: "correction: double charge 🚀", Time: at(3)},
		}
		var added []store.Credit
		seenID := map[int64]bool{}
		for i, c := range entries {
			c.ID, c.Rev = 99, 99 // ignored
			got := mustAddCredit(t, s, c)
			if d := diffCredit(got, entries[i]); d != "" {
				t.Errorf("AddCredit #%d returned %s", i, d)
			}
			if got.ID <= 0 || seenID[got.ID] {
				t.Errorf("AddCredit #%d ID = %d, want positive and unique", i, got.ID)
			}
			seenID[got.ID] = true
			if got.Rev <= 0 || (i > 0 && got.Rev <= added[i-1].Rev) {
				t.Errorf("AddCredit #%d Rev = %d, want positive and increasing", i, got.Rev)
			}
			added = append(added, got)
		}
		tests := []struct {
			name string
			rev  int64
			want []store.Credit
		}{
			{"zero returns all by rev", 0, added},
			{"after first", added[0].Rev, added[1:]},
			{"after last", added[2].Rev, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.CreditsChangedSince(ctx, tt.rev)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("CreditsChangedSince(%d) = %+v, want %+v", tt.rev, got, tt.want)
				}
				for i := range got {
					if d := diffCredit(got[i], tt.want[i]); d != "" {
						t.Errorf("CreditsChangedSince(%d)[%d]: %s", tt.rev, i, d)
					}
				}
			})
		}
	})

	t.Run("AddCreditDefaultsTime", func(t *testing.T) {
		s := fresh(t)
		before := time.Now()
		got := mustAddCredit(t, s, store.Credit{Owner: "alice", Amount: 1})
		if !aboutNow(got.Time, before) {
			t.Errorf("Time = %v, want about now", got.Time)
		}
	})

	t.Run("AddCreditInvalid", func(t *testing.T) {
		tests := []struct {
			name   string
			credit store.Credit
		}{
			{"missing owner", store.Credit{Amount: 1, Time: at(1)}},
			{"zero amount", store.Credit{Owner: "alice", Time: at(1)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				if _, err := s.AddCredit(ctx, tt.credit); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("AddCredit error = %v, want ErrInvalid", err)
				}
				if got, err := s.CreditsChangedSince(ctx, 0); err != nil || len(got) != 0 {
					t.Errorf("after failed add CreditsChangedSince = %+v, %v; want none", got, err)
				}
			})
		}
	})

	t.Run("OwnerTotals", func(t *testing.T) {
		s := fresh(t)
		for _, c := range []store.Credit{
			{Owner: "alice", Amount: 5000000, Note: "top-up", Time: at(1)},
			{Owner: "alice", Amount: 1000000, Time: at(2)},
			{Owner: "alice", Amount: -250000, Note: "correction", Time: at(3)},
			{Owner: "bob", Amount: 700, Time: at(4)},
		} {
			mustAddCredit(t, s, c)
		}
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{
			spendRow("r1", "key_a", "alice", "g", 1, 100, true),
			spendRow("r2", "key_a", "alice", "g", 2, 200, true),
			spendRow("r3", "key_a", "alice", "g", 3, 999, false), // failed, not charged
			spendRow("r4", "key_b", "bob", "", 4, 50, true),
			spendRow("r5", "key_c", "", "g", 5, 7, true), // no owner
			spendRow("r6", "key_d", "carol", "", 6, 30, true),
		}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			owner           string
			credited, spent store.Money
			wantErr         error
		}{
			{owner: "alice", credited: 5750000, spent: 300},
			{owner: "bob", credited: 700, spent: 50},
			{owner: "carol", credited: 0, spent: 30},
			{owner: "dave", credited: 0, spent: 0},
			{owner: "", wantErr: store.ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("owner %q", tt.owner), func(t *testing.T) {
				credited, spent, err := s.OwnerTotals(ctx, tt.owner)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("OwnerTotals error = %v, want %v", err, tt.wantErr)
				}
				if credited != tt.credited || spent != tt.spent {
					t.Errorf("OwnerTotals(%q) = %d, %d; want %d, %d", tt.owner, credited, spent, tt.credited, tt.spent)
				}
			})
		}
	})

	t.Run("SpendSince", func(t *testing.T) {
		s := fresh(t)
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{
			spendRow("a10", "key_a", "alice", "G", 10, 100, true),
			spendRow("a20", "key_a", "alice", "G", 20, 200, true),
			spendRow("a25", "key_a", "alice", "G", 25, 1000, false), // not charged
			spendRow("a30", "key_a", "alice", "G", 30, 400, true),
			spendRow("b20", "key_b", "bob", "G", 20, 10, true),
			spendRow("c20", "key_c", "carol", "H", 20, 5000, true),
			spendRow("d20", "key_d", "", "", 20, 3, true), // no group
		}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name         string
			keyID, group string
			since        time.Time
			want         store.Money
		}{
			{"key all time", "key_a", "", time.Time{}, 700},
			{"key since is inclusive", "key_a", "", at(20), 600},
			{"key one microsecond later", "key_a", "", at(20).Add(time.Microsecond), 400},
			{"key before every row", "key_a", "", at(-100), 700},
			{"key after every row", "key_a", "", at(31), 0},
			{"key since in another zone", "key_a", "", at(20).In(time.FixedZone("X", -7*3600)), 600},
			{"group all time", "", "G", time.Time{}, 710},
			{"group since is inclusive", "", "G", at(20), 610},
			{"other group", "", "H", at(0), 5000},
			{"unknown key", "key_zzz", "", time.Time{}, 0},
			{"unknown group", "", "nobody", time.Time{}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.SpendSince(ctx, tt.keyID, tt.group, tt.since)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("SpendSince(%q, %q, %v) = %d, want %d", tt.keyID, tt.group, tt.since, got, tt.want)
				}
			})
		}
		for _, bad := range []struct{ name, keyID, group string }{
			{"neither key nor group", "", ""},
			{"both key and group", "key_a", "G"},
		} {
			t.Run(bad.name, func(t *testing.T) {
				if _, err := s.SpendSince(ctx, bad.keyID, bad.group, at(0)); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("SpendSince error = %v, want ErrInvalid", err)
				}
			})
		}
	})

	t.Run("ConcurrentAddCreditSumsExactly", func(t *testing.T) {
		s := fresh(t)
		const n = 20
		var (
			wg   sync.WaitGroup
			want store.Money
		)
		errs := make(chan error, n)
		for i := range n {
			amount := store.Money(i+1) * 1000001
			want += amount
			wg.Go(func() {
				if _, err := s.AddCredit(ctx, store.Credit{Owner: "alice", Amount: amount, Time: at(i)}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("AddCredit: %v", err)
		}
		credited, _, err := s.OwnerTotals(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if credited != want {
			t.Errorf("credited = %d, want %d", credited, want)
		}
		all, err := s.CreditsChangedSince(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != n {
			t.Fatalf("got %d ledger entries, want %d", len(all), n)
		}
		ids := map[int64]bool{}
		for i, c := range all {
			if ids[c.ID] || (i > 0 && c.Rev <= all[i-1].Rev) {
				t.Errorf("entry %d: ID %d repeated or Rev %d not increasing", i, c.ID, c.Rev)
			}
			ids[c.ID] = true
		}
	})
}
