package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// fullKey returns key n with every optional field set.
func fullKey(n int) store.Key {
	k := keyN(n)
	k.Models = []string{"gpt-4o*", "claude-*"}
	k.Admin = true
	k.Owner, k.Group, k.Env = "acme", "research", "live"
	k.IPAllow = []string{"10.0.0.0/8", "2001:db8::/32"}
	k.Limits = fullLimits()
	k.LogBodies = true
	k.ExpiresAt = at(n + 3600)
	k.UpdatedAt = at(n)
	return k
}

// exerciseUpdateKey checks store.Keys.UpdateKey.
func exerciseUpdateKey(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name   string
			start  store.Key
			update func(k *store.Key)
		}{
			{"set every mutable field", keyN(1), func(k *store.Key) {
				full := fullKey(1)
				full.Name, full.Hash, full.Last4 = "renamed", "ffee", "9876"
				full.Limits.RPM = 61
				full.UpdatedAt = at(500)
				*k = full
			}},
			{"clear every mutable field", fullKey(1), func(k *store.Key) {
				*k = keyN(1)
				k.UpdatedAt = at(500)
			}},
			{"one limit only", keyN(1), func(k *store.Key) {
				k.Limits = store.Limits{MonthlyBudget: 42}
				k.UpdatedAt = at(500)
			}},
			{"same name and hash do not conflict with themselves", fullKey(1), func(k *store.Key) {
				k.Env = "test"
				k.UpdatedAt = at(500)
			}},
			{"unicode labels", keyN(1), func(k *store.Key) {
				k.Owner, k.Group, k.Env = "équipe-数据", "グループ", "🚀"
				k.UpdatedAt = at(500)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				created := mustCreate(t, s, tt.start)
				other := mustCreate(t, s, keyN(2))
				k := created
				tt.update(&k)
				// CreatedAt, RevokedAt and Rev in the argument are ignored.
				k.CreatedAt, k.RevokedAt, k.Rev = at(9999), at(9999), 1
				got, err := s.UpdateKey(ctx, k)
				if err != nil {
					t.Fatalf("UpdateKey: %v", err)
				}
				want := k
				want.CreatedAt, want.RevokedAt, want.Rev = created.CreatedAt, time.Time{}, 0
				if d := diffKey(got, want); d != "" {
					t.Errorf("UpdateKey returned %s", d)
				}
				if got.Rev <= other.Rev {
					t.Errorf("Rev after update = %d, want > %d (the highest before)", got.Rev, other.Rev)
				}
				stored, err := s.GetKey(ctx, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffKey(stored, got); d != "" {
					t.Errorf("GetKey after update: %s", d)
				}
				if o, err := s.GetKey(ctx, other.ID); err != nil || diffKey(o, other) != "" {
					t.Errorf("the other key changed: %+v, %v", o, err)
				}
			})
		}
	})

	t.Run("ZeroUpdatedAtMeansNow", func(t *testing.T) {
		s := fresh(t)
		k := mustCreate(t, s, keyN(1))
		before := time.Now()
		k.UpdatedAt = time.Time{}
		got, err := s.UpdateKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !aboutNow(got.UpdatedAt, before) {
			t.Errorf("UpdatedAt = %v, want about now", got.UpdatedAt)
		}
		if !got.CreatedAt.Equal(k.CreatedAt) {
			t.Errorf("CreatedAt = %v, want %v kept", got.CreatedAt, k.CreatedAt)
		}
	})

	t.Run("RevokedKeyStaysRevoked", func(t *testing.T) {
		s := fresh(t)
		mustCreate(t, s, keyN(1))
		revoked, err := s.RevokeKey(ctx, keyN(1).ID, at(100))
		if err != nil {
			t.Fatal(err)
		}
		k := revoked
		k.RevokedAt, k.Env, k.UpdatedAt = time.Time{}, "test", at(200)
		got, err := s.UpdateKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !got.RevokedAt.Equal(at(100)) || got.Env != "test" || got.Rev <= revoked.Rev {
			t.Errorf("UpdateKey of a revoked key = RevokedAt %v, Env %q, Rev %d; want %v, \"test\", > %d",
				got.RevokedAt, got.Env, got.Rev, at(100), revoked.Rev)
		}
	})

	t.Run("RotationFreesOldNameAndHash", func(t *testing.T) {
		s := fresh(t)
		old := mustCreate(t, s, keyN(1))
		k := old
		k.Name, k.Hash, k.Last4, k.UpdatedAt = "rotated", "00ff", "wxyz", at(50)
		rotated, err := s.UpdateKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if rotated.Hash != "00ff" || rotated.Last4 != "wxyz" || rotated.Name != "rotated" {
			t.Errorf("after rotation Name, Hash, Last4 = %q, %q, %q", rotated.Name, rotated.Hash, rotated.Last4)
		}
		if _, err := s.GetKey(ctx, old.Name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetKey(old name) error = %v, want ErrNotFound", err)
		}
		reuse := keyN(2)
		reuse.Name, reuse.Hash = old.Name, old.Hash
		if _, err := s.CreateKey(ctx, reuse); err != nil {
			t.Errorf("CreateKey with the old name and hash: %v, want success", err)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		tests := []struct {
			name   string
			mutate func(k *store.Key)
			want   error
		}{
			{"unknown id", func(k *store.Key) { k.ID = "key_ffffffffffffffff" }, store.ErrNotFound},
			{"a name is not an id", func(k *store.Key) { k.ID = keyN(1).Name }, store.ErrNotFound},
			{"duplicate name", func(k *store.Key) { k.Name = keyN(2).Name }, store.ErrConflict},
			{"duplicate hash", func(k *store.Key) { k.Hash = keyN(2).Hash }, store.ErrConflict},
			{"missing id", func(k *store.Key) { k.ID = "" }, store.ErrInvalid},
			{"missing name", func(k *store.Key) { k.Name = "" }, store.ErrInvalid},
			{"missing hash", func(k *store.Key) { k.Hash = "" }, store.ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				first := mustCreate(t, s, keyN(1))
				mustCreate(t, s, keyN(2))
				k := first
				k.Env, k.UpdatedAt = "changed", at(100)
				tt.mutate(&k)
				if _, err := s.UpdateKey(ctx, k); !errors.Is(err, tt.want) {
					t.Fatalf("UpdateKey error = %v, want %v", err, tt.want)
				}
				stored, err := s.GetKey(ctx, first.ID)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffKey(stored, first); d != "" {
					t.Errorf("failed UpdateKey changed the record: %s", d)
				}
			})
		}
	})

	t.Run("KeysChangedSince", func(t *testing.T) {
		s := fresh(t)
		var last store.Key
		for n := 1; n <= 3; n++ {
			last = mustCreate(t, s, keyN(n))
		}
		k := keyN(1)
		k.Group, k.Limits, k.UpdatedAt = "research", fullLimits(), at(100)
		updated, err := s.UpdateKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.KeysChangedSince(ctx, last.Rev)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || diffKey(got[0], updated) != "" {
			t.Errorf("KeysChangedSince(%d) = %+v, want only %+v", last.Rev, got, updated)
		}
		all, err := s.KeysChangedSince(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{keyN(2).ID, keyN(3).ID, keyN(1).ID}
		if g := ids(all); !equalStrings(g, want) {
			t.Errorf("KeysChangedSince(0) = %v, want %v", g, want)
		}
	})
}
