package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// diffPrice describes how got differs from want, or returns "". Rev is
// compared only when want.Rev is non-zero.
func diffPrice(got, want store.Price) string {
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		return fmt.Sprintf("UpdatedAt: got %v, want %v", got.UpdatedAt, want.UpdatedAt)
	}
	got.UpdatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	if want.Rev == 0 {
		got.Rev = 0
	}
	if got != want {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

// mustPutPrice stores p and fails the test on error.
func mustPutPrice(t *testing.T, s store.Store, p store.Price) store.Price {
	t.Helper()
	got, err := s.PutPrice(context.Background(), p)
	if err != nil {
		t.Fatalf("PutPrice(%s): %v", p.Model, err)
	}
	return got
}

// models returns the models of ps in order.
func models(ps []store.Price) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Model
	}
	return out
}

// exercisePrices checks every store.Prices method.
func exercisePrices(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name  string
			price store.Price
		}{
			{"all fields", store.Price{Model: "gpt-4o", InputPerM: 2500000, OutputPerM: 10000000,
				CachedInputPerM: 1250000, UpdatedAt: at(1)}},
			{"free model", store.Price{Model: "local/llama", UpdatedAt: at(1)}},
			{"large prices", store.Price{Model: "big", InputPerM: 1 << 50, OutputPerM: 1<<62 - 1, UpdatedAt: at(1)}},
			{"non-UTC time comes back equal", store.Price{Model: "tz", InputPerM: 1,
				UpdatedAt: at(2).In(time.FixedZone("X", 5*3600))}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				put := mustPutPrice(t, s, tt.price)
				if put.Rev <= 0 {
					t.Errorf("PutPrice Rev = %d, want > 0", put.Rev)
				}
				if d := diffPrice(put, tt.price); d != "" {
					t.Errorf("PutPrice returned %s", d)
				}
				all, err := s.ListPrices(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(all) != 1 || diffPrice(all[0], put) != "" {
					t.Errorf("ListPrices = %+v, want only %+v", all, put)
				}
			})
		}
	})

	t.Run("Replace", func(t *testing.T) {
		s := fresh(t)
		mustPutPrice(t, s, store.Price{Model: "m", InputPerM: 1, OutputPerM: 2, CachedInputPerM: 3, UpdatedAt: at(1)})
		other := mustPutPrice(t, s, store.Price{Model: "other", InputPerM: 9, UpdatedAt: at(2)})
		replace := store.Price{Model: "m", InputPerM: 10, UpdatedAt: at(3)}
		got := mustPutPrice(t, s, replace)
		if d := diffPrice(got, replace); d != "" {
			t.Errorf("PutPrice(replace) returned %s", d)
		}
		if got.Rev <= other.Rev {
			t.Errorf("Rev after replace = %d, want > %d (the highest before)", got.Rev, other.Rev)
		}
		all, err := s.ListPrices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || diffPrice(all[0], got) != "" {
			t.Errorf("ListPrices = %+v, want the replaced m and other", all)
		}
	})

	t.Run("ZeroUpdatedAtMeansNow", func(t *testing.T) {
		s := fresh(t)
		before := time.Now()
		got := mustPutPrice(t, s, store.Price{Model: "m", InputPerM: 1})
		if !aboutNow(got.UpdatedAt, before) {
			t.Errorf("UpdatedAt = %v, want about now", got.UpdatedAt)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		tests := []struct {
			name  string
			price store.Price
		}{
			{"missing model", store.Price{InputPerM: 1}},
			{"negative input", store.Price{Model: "m", InputPerM: -1}},
			{"negative output", store.Price{Model: "m", OutputPerM: -1}},
			{"negative cached input", store.Price{Model: "m", CachedInputPerM: -1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				if _, err := s.PutPrice(ctx, tt.price); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("PutPrice error = %v, want ErrInvalid", err)
				}
				if all, err := s.ListPrices(ctx); err != nil || len(all) != 0 {
					t.Errorf("after failed put ListPrices = %v, %v; want none", models(all), err)
				}
			})
		}
	})

	t.Run("ListPricesByModel", func(t *testing.T) {
		s := fresh(t)
		if got, err := s.ListPrices(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListPrices(empty) = %v, %v; want none", models(got), err)
		}
		for _, m := range []string{"gpt-4o-mini", "claude-sonnet", "gpt-4o"} {
			mustPutPrice(t, s, store.Price{Model: m, UpdatedAt: at(1)})
		}
		got, err := s.ListPrices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := models(got); !equalStrings(g, []string{"claude-sonnet", "gpt-4o", "gpt-4o-mini"}) {
			t.Errorf("ListPrices = %v, want by model", g)
		}
	})

	t.Run("PricesChangedSince", func(t *testing.T) {
		s := fresh(t)
		var revs []int64
		for _, m := range []string{"a", "b", "c"} {
			revs = append(revs, mustPutPrice(t, s, store.Price{Model: m, UpdatedAt: at(1)}).Rev)
		}
		last := mustPutPrice(t, s, store.Price{Model: "a", OutputPerM: 7, UpdatedAt: at(2)})
		tests := []struct {
			name string
			rev  int64
			want []string
		}{
			{"zero returns all by rev", 0, []string{"b", "c", "a"}},
			{"after second", revs[1], []string{"c", "a"}},
			{"after last create", revs[2], []string{"a"}},
			{"after replace", last.Rev, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.PricesChangedSince(ctx, tt.rev)
				if err != nil {
					t.Fatal(err)
				}
				if g := models(got); !equalStrings(g, tt.want) {
					t.Errorf("PricesChangedSince(%d) = %v, want %v", tt.rev, g, tt.want)
				}
				for i, p := range got {
					if p.Rev <= tt.rev || (i > 0 && p.Rev <= got[i-1].Rev) {
						t.Errorf("PricesChangedSince(%d): rev %d at %d not increasing and > rev", tt.rev, p.Rev, i)
					}
				}
				if len(got) > 0 && diffPrice(got[len(got)-1], last) != "" {
					t.Errorf("latest change = %+v, want %+v", got[len(got)-1], last)
				}
			})
		}
	})
}
