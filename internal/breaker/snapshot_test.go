package breaker

import (
	"testing"
	"time"
)

func TestSnapshot(t *testing.T) {
	clk := newClock()
	start := clk.Now()
	s := New(Options{
		ConsecutiveFailures: 3, FailureRatio: 0.9, MinRequests: 100,
		Cooldown: 10 * time.Second, Channels: []string{"zeta", "alpha"}, Now: clk.Now,
	})
	s.Success("mid", false)
	s.Failure("mid", false)
	s.Failure("mid", false)
	for range 3 {
		s.Failure("alpha", false)
	}
	want := []Snapshot{
		{Channel: "alpha", State: Open, ConsecutiveFailures: 3, Failures: 3, Total: 3, OpenUntil: start.Add(10 * time.Second), Cooldown: 10 * time.Second},
		{Channel: "mid", State: Closed, ConsecutiveFailures: 2, Failures: 2, Total: 3, Cooldown: 10 * time.Second},
		{Channel: "zeta", State: Closed, Cooldown: 10 * time.Second},
	}
	got := s.Snapshot()
	if len(got) != len(want) {
		t.Fatalf("Snapshot = %+v, want %+v", got, want)
	}
	for i := range want {
		t.Run(want[i].Channel, func(t *testing.T) {
			if got[i] != want[i] {
				t.Errorf("got  %+v\nwant %+v", got[i], want[i])
			}
		})
	}
	t.Run("window counts expire", func(t *testing.T) {
		clk.Add(DefaultWindow)
		for _, sn := range s.Snapshot() {
			if sn.Failures != 0 || sn.Total != 0 {
				t.Errorf("%s: %d of %d failed after a whole window, want 0 of 0", sn.Channel, sn.Failures, sn.Total)
			}
		}
	})
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{Closed, "closed"},
		{Open, "open"},
		{HalfOpen, "half_open"},
		{State(42), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("State(%d).String() = %q, want %q", int(tt.s), got, tt.want)
			}
		})
	}
}

func TestNewNormalizesOptions(t *testing.T) {
	tests := []struct {
		name                      string
		opts                      Options
		wantCooldown, wantMax     time.Duration
		wantWindow                time.Duration
		wantMinRequests, wantCons int
	}{
		{"zero durations take defaults", Options{}, DefaultCooldown, DefaultMaxCooldown, DefaultWindow, 0, 0},
		{"max below cooldown becomes cooldown", Options{Cooldown: time.Minute, MaxCooldown: time.Second}, time.Minute, time.Minute, DefaultWindow, 0, 0},
		{"negative values", Options{MinRequests: -3, ConsecutiveFailures: -1, Window: -time.Second}, DefaultCooldown, DefaultMaxCooldown, DefaultWindow, 0, -1},
		{"defaults", DefaultOptions(), DefaultCooldown, DefaultMaxCooldown, DefaultWindow, DefaultMinRequests, DefaultConsecutiveFailures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := New(tt.opts).opts
			if o.Cooldown != tt.wantCooldown || o.MaxCooldown != tt.wantMax || o.Window != tt.wantWindow ||
				o.MinRequests != tt.wantMinRequests || o.ConsecutiveFailures != tt.wantCons || o.Now == nil {
				t.Errorf("normalized to %+v", o)
			}
		})
	}
}
