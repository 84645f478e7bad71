package idempotency_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate/tollgate/internal/idempotency"
	"github.com/tollgate/tollgate/internal/idempotency/idempotencytest"
)

var _ idempotency.Store = (*idempotency.Memory)(nil)

func TestMemoryConformance(t *testing.T) {
	idempotencytest.Exercise(t, func(*testing.T) idempotency.Store {
		return idempotency.NewMemory(idempotency.MemoryOptions{})
	})
	t.Run("ResultLimit", func(t *testing.T) {
		idempotencytest.ExerciseResultLimit(t, 1024, func(*testing.T) idempotency.Store {
			return idempotency.NewMemory(idempotency.MemoryOptions{MaxResultBytes: 1024})
		})
	})
	t.Run("DefaultResultLimit", func(t *testing.T) {
		idempotencytest.ExerciseResultLimit(t, idempotency.DefaultMaxResultBytes, func(*testing.T) idempotency.Store {
			return idempotency.NewMemory(idempotency.MemoryOptions{})
		})
	})
}

// fp is the fingerprint the memory tests begin with.
var fp = idempotency.Fingerprint([]byte(`{"model":"m"}`))

// ok is a small finished answer.
func ok() idempotency.Result {
	return idempotency.Result{Status: 200, Body: []byte(`{"ok":true}`)}
}

// begin calls Begin and fails the test on error.
func begin(t *testing.T, m *idempotency.Memory, key string) idempotency.Outcome {
	t.Helper()
	o, _, err := m.Begin(t.Context(), "scope", key, fp)
	if err != nil {
		t.Fatalf("Begin(%q): %v", key, err)
	}
	return o
}

// finish begins and finishes key with ok().
func finish(t *testing.T, m *idempotency.Memory, key string) {
	t.Helper()
	if o := begin(t, m, key); o != idempotency.Started {
		t.Fatalf("Begin(%q) = %v, want started", key, o)
	}
	if err := m.Finish(t.Context(), "scope", key, ok()); err != nil {
		t.Fatalf("Finish(%q): %v", key, err)
	}
}

func TestMemoryWindow(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		wait   time.Duration
		want   idempotency.Outcome
	}{
		{"just inside window replays", time.Hour, time.Hour - time.Nanosecond, idempotency.Replay},
		{"at window end starts again", time.Hour, time.Hour, idempotency.Started},
		{"default window is a day", 0, 24*time.Hour - time.Second, idempotency.Replay},
		{"default window ends after a day", 0, 24 * time.Hour, idempotency.Started},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := idempotency.NewMemory(idempotency.MemoryOptions{Window: tt.window, InProgressTTL: time.Minute})
				finish(t, m, "k")
				time.Sleep(tt.wait)
				if got := begin(t, m, "k"); got != tt.want {
					t.Errorf("Begin after %v = %v, want %v", tt.wait, got, tt.want)
				}
			})
		})
	}
}

func TestMemoryInProgressTTL(t *testing.T) {
	tests := []struct {
		name       string
		ttl        time.Duration
		wait       time.Duration
		want       idempotency.Outcome
		lateFinish error // Finish of the first claim after the second Begin
	}{
		{"claim inside ttl is in progress", time.Minute, time.Minute - time.Nanosecond, idempotency.InProgress, nil},
		{"claim past ttl starts again", time.Minute, time.Minute, idempotency.Started, nil},
		{"default ttl holds nine minutes", 0, 9 * time.Minute, idempotency.InProgress, nil},
		{"default ttl expires at ten minutes", 0, 10 * time.Minute, idempotency.Started, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := idempotency.NewMemory(idempotency.MemoryOptions{InProgressTTL: tt.ttl})
				if o := begin(t, m, "k"); o != idempotency.Started {
					t.Fatalf("first Begin = %v", o)
				}
				time.Sleep(tt.wait)
				if got := begin(t, m, "k"); got != tt.want {
					t.Errorf("Begin after %v = %v, want %v", tt.wait, got, tt.want)
				}
			})
		})
	}
}

func TestMemoryExpiredClaimRefusesLateCalls(t *testing.T) {
	tests := []struct {
		name string
		call func(m *idempotency.Memory, t *testing.T) error
	}{
		{"finish", func(m *idempotency.Memory, t *testing.T) error { return m.Finish(t.Context(), "scope", "k", ok()) }},
		{"abandon", func(m *idempotency.Memory, t *testing.T) error { return m.Abandon(t.Context(), "scope", "k") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := idempotency.NewMemory(idempotency.MemoryOptions{InProgressTTL: time.Minute})
				begin(t, m, "k")
				time.Sleep(time.Minute)
				if err := tt.call(m, t); !errors.Is(err, idempotency.ErrNotClaimed) {
					t.Fatalf("late %s = %v, want ErrNotClaimed", tt.name, err)
				}
				if got := begin(t, m, "k"); got != idempotency.Started {
					t.Errorf("Begin after late %s = %v, want started", tt.name, got)
				}
			})
		})
	}
}

func TestMemoryUsesInjectedClock(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	m := idempotency.NewMemory(idempotency.MemoryOptions{Window: time.Hour, Now: clock})
	finish(t, m, "k")
	steps := []struct {
		name    string
		advance time.Duration
		want    idempotency.Outcome
	}{
		{"same instant replays", 0, idempotency.Replay},
		{"59 minutes later replays", 59 * time.Minute, idempotency.Replay},
		{"an hour later starts", time.Minute, idempotency.Started},
		{"new claim is running", 0, idempotency.InProgress},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			advance(st.advance)
			if got := begin(t, m, "k"); got != st.want {
				t.Fatalf("Begin = %v, want %v", got, st.want)
			}
		})
	}
}

func TestMemoryMaxEntries(t *testing.T) {
	// Each script runs on a store with room for three keys; "b:" begins a
	// key and leaves it running, "f:" begins and finishes it, "F:"
	// finishes a running key. want lists the outcome of a final Begin per
	// key.
	tests := []struct {
		name   string
		script []string
		want   map[string]idempotency.Outcome
	}{
		{"oldest finished is evicted", []string{"f:a", "f:b", "f:c", "f:d"}, map[string]idempotency.Outcome{
			"b": idempotency.Replay, "c": idempotency.Replay, "d": idempotency.Replay,
		}},
		{"order is by finish not by begin", []string{"b:a", "b:b", "F:b", "F:a", "f:c", "f:d"}, map[string]idempotency.Outcome{
			"a": idempotency.Replay, "c": idempotency.Replay, "d": idempotency.Replay,
		}},
		{"running claims are kept", []string{"b:a", "f:b", "b:c", "f:d"}, map[string]idempotency.Outcome{
			"a": idempotency.InProgress, "c": idempotency.InProgress, "d": idempotency.Replay,
		}},
		{"replay does not evict", []string{"f:a", "f:b", "f:c"}, map[string]idempotency.Outcome{
			"a": idempotency.Replay, "b": idempotency.Replay, "c": idempotency.Replay,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 3})
			for _, s := range tt.script {
				op, key := s[:1], s[2:]
				switch op {
				case "b":
					if o := begin(t, m, key); o != idempotency.Started {
						t.Fatalf("%s: Begin = %v", s, o)
					}
				case "f":
					finish(t, m, key)
				case "F":
					if err := m.Finish(t.Context(), "scope", key, ok()); err != nil {
						t.Fatalf("%s: Finish: %v", s, err)
					}
				}
			}
			// Check survivors first: a Begin of an evicted key claims a
			// slot and would evict another.
			for _, key := range []string{"a", "b", "c", "d"} {
				if want, kept := tt.want[key]; kept {
					if got := begin(t, m, key); got != want {
						t.Errorf("Begin(%q) = %v, want %v", key, got, want)
					}
				}
			}
			if got := m.Len(); got != 3 {
				t.Errorf("Len = %d, want 3", got)
			}
		})
	}
}

func TestMemoryFullOfRunningClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 2, InProgressTTL: time.Minute})
		begin(t, m, "a")
		begin(t, m, "b")
		if o, _, err := m.Begin(t.Context(), "scope", "c", fp); !errors.Is(err, idempotency.ErrFull) || o != 0 {
			t.Fatalf("Begin when full of running claims = %v, %v; want ErrFull", o, err)
		}
		if err := m.Abandon(t.Context(), "scope", "a"); err != nil {
			t.Fatalf("Abandon: %v", err)
		}
		if got := begin(t, m, "c"); got != idempotency.Started {
			t.Fatalf("Begin after Abandon = %v, want started", got)
		}
		time.Sleep(time.Minute)
		if got := begin(t, m, "d"); got != idempotency.Started {
			t.Fatalf("Begin once the claims expired = %v, want started", got)
		}
	})
}

func TestMemorySweepsExpiredEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		m := idempotency.NewMemory(idempotency.MemoryOptions{Window: time.Hour, InProgressTTL: time.Minute})
		for i := range n {
			finish(t, m, fmt.Sprintf("old-%d", i))
			begin(t, m, fmt.Sprintf("stuck-%d", i))
		}
		time.Sleep(time.Hour)
		for i := range n / 2 {
			finish(t, m, fmt.Sprintf("new-%d", i))
		}
		// Each Begin sweeps a batch of each kind, so n/2 Begins clear far
		// more than the n/2 entries they add.
		if got, limit := m.Len(), n; got > limit {
			t.Errorf("Len = %d after expiry, want at most %d", got, limit)
		}
	})
}
