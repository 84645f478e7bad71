package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// exerciseKeys checks every store.Keys method.
func exerciseKeys(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("CreateKeyRoundTrip", func(t *testing.T) {
		tests := []struct {
			name string
			key  store.Key
		}{
			{"all fields", store.Key{
				ID: "key_00000000000000aa", Name: "prod-backend", Hash: "ab12", Last4: "wxyz",
				Models: []string{"gpt-4o*", "claude-*"},
				Admin:  true,
				Owner:  "acme", Group: "research", Env: "live",
				IPAllow:   []string{"10.0.0.0/8", "2001:db8::/32"},
				Limits:    fullLimits(),
				LogBodies: true,
				ExpiresAt: at(3600), CreatedAt: at(1), UpdatedAt: at(2),
			}},
			{"zero times stay zero", store.Key{
				ID: "key_00000000000000ab", Name: "plain", Hash: "cd34", CreatedAt: at(1), UpdatedAt: at(1),
			}},
			{"unicode name", store.Key{
				ID: "key_00000000000000ac", Name: "équipe-数据-🚀", Hash: "ef56", CreatedAt: at(1), UpdatedAt: at(1),
			}},
			{"revoked at creation", store.Key{
				ID: "key_00000000000000ad", Name: "old", Hash: "0a0b", RevokedAt: at(5), CreatedAt: at(1), UpdatedAt: at(5),
			}},
			{"non-UTC times come back equal", store.Key{
				ID: "key_00000000000000ae", Name: "tz", Hash: "0c0d",
				ExpiresAt: at(9).In(time.FixedZone("X", 5*3600)), CreatedAt: at(1).In(time.FixedZone("Y", -3600)), UpdatedAt: at(1),
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				created := mustCreate(t, s, tt.key)
				if created.Rev <= 0 {
					t.Errorf("CreateKey Rev = %d, want > 0", created.Rev)
				}
				if d := diffKey(created, tt.key); d != "" {
					t.Errorf("CreateKey returned %s", d)
				}
				for _, lookup := range []string{tt.key.ID, tt.key.Name} {
					got, err := s.GetKey(ctx, lookup)
					if err != nil {
						t.Fatalf("GetKey(%q): %v", lookup, err)
					}
					want := tt.key
					want.Rev = created.Rev
					if d := diffKey(got, want); d != "" {
						t.Errorf("GetKey(%q): %s", lookup, d)
					}
				}
			})
		}
	})

	t.Run("CreateKeyDefaultsTimes", func(t *testing.T) {
		s := fresh(t)
		before := time.Now().Add(-time.Second)
		k := keyN(1)
		k.CreatedAt = time.Time{}
		got := mustCreate(t, s, k)
		if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
		}
		if !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("UpdatedAt = %v, want CreatedAt %v", got.UpdatedAt, got.CreatedAt)
		}
		if !got.ExpiresAt.IsZero() || !got.RevokedAt.IsZero() {
			t.Errorf("ExpiresAt, RevokedAt = %v, %v; want zero", got.ExpiresAt, got.RevokedAt)
		}
	})

	t.Run("CreateKeyConflict", func(t *testing.T) {
		tests := []struct {
			name   string
			mutate func(k *store.Key)
		}{
			{"duplicate id", func(k *store.Key) { k.ID = keyN(1).ID }},
			{"duplicate name", func(k *store.Key) { k.Name = keyN(1).Name }},
			{"duplicate hash", func(k *store.Key) { k.Hash = keyN(1).Hash }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				orig := mustCreate(t, s, keyN(1))
				dup := keyN(2)
				tt.mutate(&dup)
				if _, err := s.CreateKey(ctx, dup); !errors.Is(err, store.ErrConflict) {
					t.Fatalf("CreateKey(duplicate) error = %v, want ErrConflict", err)
				}
				all, err := s.ListKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(all) != 1 || diffKey(all[0], orig) != "" {
					t.Errorf("after conflict ListKeys = %v, want only the original", ids(all))
				}
			})
		}
	})

	t.Run("CreateKeyInvalid", func(t *testing.T) {
		tests := []struct {
			name   string
			mutate func(k *store.Key)
		}{
			{"missing id", func(k *store.Key) { k.ID = "" }},
			{"missing name", func(k *store.Key) { k.Name = "" }},
			{"missing hash", func(k *store.Key) { k.Hash = "" }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				k := keyN(1)
				tt.mutate(&k)
				if _, err := s.CreateKey(ctx, k); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("CreateKey error = %v, want ErrInvalid", err)
				}
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := fresh(t)
		mustCreate(t, s, keyN(1))
		tests := []struct {
			name string
			call func() error
		}{
			{"GetKey unknown", func() error { _, err := s.GetKey(ctx, "nope"); return err }},
			{"GetKey empty", func() error { _, err := s.GetKey(ctx, ""); return err }},
			{"RevokeKey unknown", func() error { _, err := s.RevokeKey(ctx, "nope", at(1)); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("error = %v, want ErrNotFound", err)
				}
			})
		}
	})

	t.Run("GetKeyPrefersID", func(t *testing.T) {
		s := fresh(t)
		a := keyN(1)
		b := keyN(2)
		b.Name = a.ID // a name that collides with another key's ID
		mustCreate(t, s, a)
		mustCreate(t, s, b)
		got, err := s.GetKey(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != a.ID {
			t.Errorf("GetKey(%q) = %s, want the key with that ID", a.ID, got.ID)
		}
	})

	t.Run("ListKeysOrder", func(t *testing.T) {
		s := fresh(t)
		if got, err := s.ListKeys(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListKeys(empty) = %v, %v; want none", ids(got), err)
		}
		// Created out of order; c and b share a CreatedAt, so ID breaks the tie.
		c, b, a := keyN(3), keyN(2), keyN(1)
		c.CreatedAt, b.CreatedAt, a.CreatedAt = at(10), at(10), at(20)
		for _, k := range []store.Key{a, c, b} {
			mustCreate(t, s, k)
		}
		got, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{b.ID, c.ID, a.ID}
		if g := ids(got); !equalStrings(g, want) {
			t.Errorf("ListKeys order = %v, want %v", g, want)
		}
	})

	t.Run("RevokeKey", func(t *testing.T) {
		tests := []struct {
			name   string
			lookup func(k store.Key) string
		}{
			{"by id", func(k store.Key) string { return k.ID }},
			{"by name", func(k store.Key) string { return k.Name }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				k := mustCreate(t, s, keyN(1))
				other := mustCreate(t, s, keyN(2))
				got, err := s.RevokeKey(ctx, tt.lookup(k), at(100))
				if err != nil {
					t.Fatalf("RevokeKey: %v", err)
				}
				want := k
				want.RevokedAt, want.UpdatedAt, want.Rev = at(100), at(100), 0
				if d := diffKey(got, want); d != "" {
					t.Errorf("RevokeKey returned %s", d)
				}
				if got.Rev <= other.Rev {
					t.Errorf("Rev after revoke = %d, want > %d (the highest before)", got.Rev, other.Rev)
				}
				again, err := s.RevokeKey(ctx, tt.lookup(k), at(200))
				if err != nil {
					t.Fatalf("second RevokeKey: %v", err)
				}
				if d := diffKey(again, got); d != "" {
					t.Errorf("second RevokeKey changed the record: %s", d)
				}
				if stored, err := s.GetKey(ctx, k.ID); err != nil || diffKey(stored, got) != "" {
					t.Errorf("GetKey after revoke = %+v, %v; want %+v", stored, err, got)
				}
			})
		}
	})

	t.Run("KeysChangedSince", func(t *testing.T) {
		s := fresh(t)
		var revs []int64
		for n := 1; n <= 4; n++ {
			revs = append(revs, mustCreate(t, s, keyN(n)).Rev)
		}
		for i := 1; i < len(revs); i++ {
			if revs[i] <= revs[i-1] {
				t.Fatalf("create revs not strictly increasing: %v", revs)
			}
		}
		revoked, err := s.RevokeKey(ctx, keyN(2).ID, at(50))
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			rev  int64
			want []string
		}{
			{"zero returns all by rev", 0, []string{keyN(1).ID, keyN(3).ID, keyN(4).ID, keyN(2).ID}},
			{"after first", revs[0], []string{keyN(3).ID, keyN(4).ID, keyN(2).ID}},
			{"after last create", revs[3], []string{keyN(2).ID}},
			{"after revoke", revoked.Rev, nil},
			{"far future", revoked.Rev + 1000, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.KeysChangedSince(ctx, tt.rev)
				if err != nil {
					t.Fatal(err)
				}
				if g := ids(got); !equalStrings(g, tt.want) {
					t.Errorf("KeysChangedSince(%d) = %v, want %v", tt.rev, g, tt.want)
				}
				for i, k := range got {
					if k.Rev <= tt.rev || (i > 0 && k.Rev <= got[i-1].Rev) {
						t.Errorf("KeysChangedSince(%d) revs not increasing and > rev: %d at %d", tt.rev, k.Rev, i)
					}
				}
			})
		}
	})

	t.Run("ConcurrentCreatesGetDistinctRevs", func(t *testing.T) {
		s := fresh(t)
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				if _, err := s.CreateKey(ctx, keyN(i+1)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("CreateKey: %v", err)
		}
		all, err := s.KeysChangedSince(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != n {
			t.Fatalf("got %d keys, want %d", len(all), n)
		}
		for i := 1; i < len(all); i++ {
			if all[i].Rev <= all[i-1].Rev {
				t.Errorf("revs not strictly increasing: %d then %d", all[i-1].Rev, all[i].Rev)
			}
		}
	})
}

// equalStrings reports whether a and b hold the same strings, treating nil
// and empty as equal.
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
