package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// groupN returns a distinct, valid group numbered n, with fixed times.
func groupN(n int) store.Group {
	return store.Group{
		Name:      fmt.Sprintf("group-%d", n),
		CreatedAt: at(n),
		UpdatedAt: at(n),
	}
}

// diffGroup describes how got differs from want, or returns "". Rev is
// compared only when want.Rev is non-zero.
func diffGroup(got, want store.Group) string {
	var d []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w))
		}
	}
	check("Name", got.Name == want.Name, got.Name, want.Name)
	check("Models", slices.Equal(got.Models, want.Models), got.Models, want.Models)
	check("Limits", got.Limits == want.Limits, got.Limits, want.Limits)
	check("PriceMultiplierPPM", got.PriceMultiplierPPM == want.PriceMultiplierPPM, got.PriceMultiplierPPM, want.PriceMultiplierPPM)
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

// mustPutGroup stores g and fails the test on error.
func mustPutGroup(t *testing.T, s store.Store, g store.Group) store.Group {
	t.Helper()
	got, err := s.PutGroup(context.Background(), g)
	if err != nil {
		t.Fatalf("PutGroup(%s): %v", g.Name, err)
	}
	return got
}

// groupNames returns the names of gs in order.
func groupNames(gs []store.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	return out
}

// exerciseGroups checks every store.Groups method.
func exerciseGroups(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name  string
			group store.Group
		}{
			{"all fields", store.Group{
				Name: "research", Models: []string{"gpt-4o*", "claude-*"}, Limits: fullLimits(),
				PriceMultiplierPPM: 800000, CreatedAt: at(1), UpdatedAt: at(2),
			}},
			{"only a name", groupN(1)},
			{"unicode name", store.Group{Name: "équipe-数据-🚀", CreatedAt: at(1), UpdatedAt: at(1)}},
			{"non-UTC times come back equal", store.Group{
				Name: "tz", CreatedAt: at(1).In(time.FixedZone("Y", -3600)), UpdatedAt: at(2).In(time.FixedZone("X", 5*3600)),
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				put := mustPutGroup(t, s, tt.group)
				if put.Rev <= 0 {
					t.Errorf("PutGroup Rev = %d, want > 0", put.Rev)
				}
				if d := diffGroup(put, tt.group); d != "" {
					t.Errorf("PutGroup returned %s", d)
				}
				got, err := s.GetGroup(ctx, tt.group.Name)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffGroup(got, put); d != "" {
					t.Errorf("GetGroup: %s", d)
				}
			})
		}
	})

	t.Run("ReplaceKeepsCreatedAt", func(t *testing.T) {
		s := fresh(t)
		first := store.Group{Name: "g", Models: []string{"a"}, Limits: fullLimits(), PriceMultiplierPPM: 900000,
			CreatedAt: at(1), UpdatedAt: at(1)}
		put := mustPutGroup(t, s, first)
		other := mustPutGroup(t, s, groupN(2))
		replace := store.Group{Name: "g", Limits: store.Limits{RPM: 5}, CreatedAt: at(50), UpdatedAt: at(60)}
		got := mustPutGroup(t, s, replace)
		want := replace
		want.CreatedAt = put.CreatedAt
		if d := diffGroup(got, want); d != "" {
			t.Errorf("PutGroup(replace) returned %s", d)
		}
		if got.Rev <= other.Rev {
			t.Errorf("Rev after replace = %d, want > %d", got.Rev, other.Rev)
		}
		again := mustPutGroup(t, s, replace)
		if again.Rev <= got.Rev {
			t.Errorf("an unchanged put kept Rev %d, want > %d", again.Rev, got.Rev)
		}
		all, err := s.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := groupNames(all); !equalStrings(g, []string{"g", "group-2"}) {
			t.Errorf("ListGroups = %v, want one g and group-2", g)
		}
	})

	t.Run("DefaultsTimes", func(t *testing.T) {
		s := fresh(t)
		before := time.Now()
		got := mustPutGroup(t, s, store.Group{Name: "g"})
		if !aboutNow(got.UpdatedAt, before) || !got.CreatedAt.Equal(got.UpdatedAt) {
			t.Errorf("CreatedAt, UpdatedAt = %v, %v; want both about now and equal", got.CreatedAt, got.UpdatedAt)
		}
		later := mustPutGroup(t, s, store.Group{Name: "g", CreatedAt: at(1)})
		if !later.CreatedAt.Equal(got.CreatedAt) || !aboutNow(later.UpdatedAt, before) {
			t.Errorf("after replace CreatedAt, UpdatedAt = %v, %v; want %v kept and about now",
				later.CreatedAt, later.UpdatedAt, got.CreatedAt)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		s := fresh(t)
		mustPutGroup(t, s, groupN(1))
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"put without name", func() error {
				_, err := s.PutGroup(ctx, store.Group{Models: []string{"x"}})
				return err
			}, store.ErrInvalid},
			{"negative price multiplier", func() error {
				_, err := s.PutGroup(ctx, store.Group{Name: "g", PriceMultiplierPPM: -1})
				return err
			}, store.ErrInvalid},
			{"get unknown", func() error { _, err := s.GetGroup(ctx, "nope"); return err }, store.ErrNotFound},
			{"get empty", func() error { _, err := s.GetGroup(ctx, ""); return err }, store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, tt.want) {
					t.Errorf("error = %v, want %v", err, tt.want)
				}
			})
		}
		if all, err := s.ListGroups(ctx); err != nil || len(all) != 1 {
			t.Errorf("after failed puts ListGroups = %v, %v; want only group-1", groupNames(all), err)
		}
	})

	t.Run("ListGroupsByName", func(t *testing.T) {
		s := fresh(t)
		if got, err := s.ListGroups(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListGroups(empty) = %v, %v; want none", groupNames(got), err)
		}
		for _, name := range []string{"b", "c", "a"} {
			mustPutGroup(t, s, store.Group{Name: name, UpdatedAt: at(1)})
		}
		got, err := s.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := groupNames(got); !equalStrings(g, []string{"a", "b", "c"}) {
			t.Errorf("ListGroups = %v, want [a b c]", g)
		}
	})

	t.Run("GroupsChangedSince", func(t *testing.T) {
		s := fresh(t)
		var revs []int64
		for n := 1; n <= 3; n++ {
			revs = append(revs, mustPutGroup(t, s, groupN(n)).Rev)
		}
		replaced := groupN(1)
		replaced.PriceMultiplierPPM = 1200000
		last := mustPutGroup(t, s, replaced)
		tests := []struct {
			name string
			rev  int64
			want []string
		}{
			{"zero returns all by rev", 0, []string{"group-2", "group-3", "group-1"}},
			{"after first", revs[0], []string{"group-2", "group-3", "group-1"}},
			{"after last create", revs[2], []string{"group-1"}},
			{"after replace", last.Rev, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.GroupsChangedSince(ctx, tt.rev)
				if err != nil {
					t.Fatal(err)
				}
				if g := groupNames(got); !equalStrings(g, tt.want) {
					t.Errorf("GroupsChangedSince(%d) = %v, want %v", tt.rev, g, tt.want)
				}
				for i, g := range got {
					if g.Rev <= tt.rev || (i > 0 && g.Rev <= got[i-1].Rev) {
						t.Errorf("GroupsChangedSince(%d): rev %d at %d not increasing and > rev", tt.rev, g.Rev, i)
					}
				}
				if len(got) > 0 && diffGroup(got[len(got)-1], last) != "" {
					t.Errorf("latest change = %+v, want %+v", got[len(got)-1], last)
				}
			})
		}
	})
}
