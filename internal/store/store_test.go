package store_test

import (
	"testing"

	"github.com/tollgate/tollgate/internal/store"
)

func TestLogFilterEffectiveLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"zero means default", 0, store.DefaultLogLimit},
		{"negative means default", -5, store.DefaultLogLimit},
		{"within range", 7, 7},
		{"at max", store.MaxLogLimit, store.MaxLogLimit},
		{"above max is capped", store.MaxLogLimit + 1, store.MaxLogLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (store.LogFilter{Limit: tt.limit}).EffectiveLimit(); got != tt.want {
				t.Errorf("EffectiveLimit() with Limit %d = %d, want %d", tt.limit, got, tt.want)
			}
		})
	}
}
