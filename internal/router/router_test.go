package router

import (
	"testing"
)

func TestResolveNamesAndAliases(t *testing.T) {
	tbl, err := New([]Model{
		{Name: "a", Aliases: []string{"alpha"}, Targets: []Target{{Channel: "c1", UpstreamModel: "up-a", Weight: 1}}},
		{Name: "b", Targets: []Target{{Channel: "c2", UpstreamModel: "b", Weight: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"a", "a", true},
		{"alpha", "a", true},
		{"b", "b", true},
		{"B", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := tbl.Resolve(tt.name)
			if ok != tt.ok || (ok && m.Name != tt.want) {
				t.Fatalf("Resolve(%q) = %v, %v", tt.name, m, ok)
			}
		})
	}
	if got := tbl.Names(); len(got) != 3 || got[0] != "a" || got[1] != "alpha" {
		t.Fatalf("Names = %v", got)
	}
}

func TestNewRejectsDuplicatesAndEmptyModels(t *testing.T) {
	tg := []Target{{Channel: "c", Weight: 1}}
	tests := []struct {
		name   string
		models []Model
	}{
		{"duplicate name", []Model{{Name: "a", Targets: tg}, {Name: "a", Targets: tg}}},
		{"alias clashes with name", []Model{{Name: "a", Targets: tg}, {Name: "b", Aliases: []string{"a"}, Targets: tg}}},
		{"no targets", []Model{{Name: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.models); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

func TestPickPrefersBestPriorityAndHonoursWeights(t *testing.T) {
	m := &Model{Name: "m", Targets: []Target{
		{Channel: "backup", Weight: 100, Priority: 1},
		{Channel: "heavy", Weight: 3},
		{Channel: "light", Weight: 1},
		{Channel: "off", Weight: 0},
	}}
	tbl, err := New([]Model{*m})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tbl.Resolve("m")
	counts := map[string]int{}
	const n = 8000
	for range n {
		counts[got.Pick().Channel]++
	}
	if counts["backup"] != 0 || counts["off"] != 0 {
		t.Fatalf("picked a worse tier or a zero weight: %v", counts)
	}
	// heavy should get about 3/4; allow a wide margin so the test is not flaky.
	if share := float64(counts["heavy"]) / n; share < 0.70 || share > 0.80 {
		t.Fatalf("heavy share %.3f, want about 0.75 (%v)", share, counts)
	}
}
