package logview

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

var now = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"1h", now.Add(-time.Hour), false},
		{"90s", now.Add(-90 * time.Second), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"2030-01-02T03:04:05Z", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{"2030-01-02T03:04:05+02:00", time.Date(2030, 1, 2, 1, 4, 5, 0, time.UTC), false},
		{"2030-01-02", time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{"-1h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"xd", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrBadFilter)) {
				t.Fatalf("ParseTime(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestQueryFilter(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    store.LogFilter
		wantErr bool
	}{
		{"empty", "", store.LogFilter{}, false},
		{"all", "key=key_1&model=gpt-4o&status=429&error_type=rate_limit_exceeded&since=1h&until=2030-05-06&request_id=req_1&limit=5",
			store.LogFilter{KeyID: "key_1", Model: "gpt-4o", Status: 429, ErrorType: "rate_limit_exceeded", Since: now.Add(-time.Hour),
				Until: time.Date(2030, 5, 6, 0, 0, 0, 0, time.UTC), RequestID: "req_1", Limit: 5}, false},
		{"bad status", "status=abc", store.LogFilter{}, true},
		{"status out of range", "status=42", store.LogFilter{}, true},
		{"bad limit", "limit=0", store.LogFilter{}, true},
		{"bad since", "since=soon", store.LogFilter{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			got, err := QueryOf(v).Filter(now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Filter error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("Filter = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUsageFilter(t *testing.T) {
	tests := []struct {
		by      string
		want    store.UsageBy
		wantErr bool
	}{{"", store.UsageByModel, false}, {"key", store.UsageByKey, false}, {"day", store.UsageByDay, false},
		{"group", store.UsageByGroup, false}, {"owner", "", true}}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			f, err := UsageFilter(tt.by, "1h", "", now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("UsageFilter(%q) error = %v", tt.by, err)
			}
			if err == nil && (f.By != tt.want || !f.Since.Equal(now.Add(-time.Hour))) {
				t.Errorf("UsageFilter(%q) = %+v", tt.by, f)
			}
		})
	}
}
