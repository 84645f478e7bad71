package backoff

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func fixed(r float64) func() float64 { return func() float64 { return r } }

func TestDelayExact(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		name    string
		p       Policy
		attempt int
		r       float64
		want    time.Duration
	}{
		{"zero rnd gives zero", p, 3, 0, 0},
		{"first attempt half", p, 0, 0.5, 50 * time.Millisecond},
		{"second attempt doubles cap", p, 1, 0.5, 100 * time.Millisecond},
		{"fourth attempt cap 800ms", p, 3, 0.5, 400 * time.Millisecond},
		{"capped at max", p, 4, 0.5, 500 * time.Millisecond},
		{"negative attempt counts as first", p, -5, 0.5, 50 * time.Millisecond},
		{"rnd above range clamped below cap", p, 10, 7, time.Second - 1},
		{"negative rnd clamped to zero", p, 2, -1, 0},
		{"NaN rnd clamped to zero", p, 2, math.NaN(), 0},
		{"zero policy never waits", Policy{}, 5, 0.9, 0},
		{"initial above max uses max", Policy{Initial: 5 * time.Second, Max: time.Second}, 0, 0.5, 500 * time.Millisecond},
		{"no max saturates at largest duration", Policy{Initial: time.Second}, 200, 0.5, time.Duration(math.MaxInt64 / 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Delay(tt.attempt, fixed(tt.r))
			if diff := got - tt.want; diff < -1 || diff > 1 {
				t.Errorf("Delay(%d) with rnd %v = %v, want %v", tt.attempt, tt.r, got, tt.want)
			}
		})
	}
}

func TestDelayBounds(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
	}{
		{"typical", Policy{Initial: 250 * time.Millisecond, Max: 5 * time.Second}},
		{"tiny initial", Policy{Initial: 1, Max: time.Hour}},
		{"huge initial", Policy{Initial: time.Duration(math.MaxInt64 / 3), Max: time.Duration(math.MaxInt64)}},
		{"no max", Policy{Initial: time.Millisecond}},
	}
	rnds := []struct {
		name string
		f    func() float64
	}{
		{"zero", fixed(0)},
		{"almost one", fixed(math.Nextafter(1, 0))},
		{"random", rand.New(rand.NewPCG(1, 2)).Float64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rn := range rnds {
				for attempt := range 200 {
					d := tt.p.Delay(attempt, rn.f)
					c := tt.p.ceiling(attempt)
					if d < 0 || d > c {
						t.Fatalf("rnd %s attempt %d: Delay = %v, want in [0, %v]", rn.name, attempt, d, c)
					}
					if tt.p.Max > 0 && c > tt.p.Max {
						t.Fatalf("attempt %d: cap %v above Max %v", attempt, c, tt.p.Max)
					}
					if attempt > 0 && c < tt.p.ceiling(attempt-1) {
						t.Fatalf("attempt %d: cap %v shrank from %v (overflow?)", attempt, c, tt.p.ceiling(attempt-1))
					}
				}
			}
		})
	}
	t.Run("attempt 100 saturates at max", func(t *testing.T) {
		p := Policy{Initial: 250 * time.Millisecond, Max: 5 * time.Second}
		if got := p.ceiling(100); got != p.Max {
			t.Errorf("ceiling(100) = %v, want %v", got, p.Max)
		}
		if got := p.Delay(100, fixed(math.Nextafter(1, 0))); got <= 4*time.Second || got > p.Max {
			t.Errorf("Delay(100, ~1) = %v, want just below %v", got, p.Max)
		}
	})
}

func TestDelayJitterIsRoughlyUniform(t *testing.T) {
	tests := []struct {
		name string
		rnd  func() float64
	}{
		{"seeded", rand.New(rand.NewPCG(7, 11)).Float64},
		{"default source", nil},
	}
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	const n = 20000
	c := p.ceiling(3) // 800ms
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum float64
			var quarters [4]int
			for range n {
				d := p.Delay(3, tt.rnd)
				sum += float64(d)
				quarters[min(3, int(4*float64(d)/float64(c)))]++
			}
			mean := time.Duration(sum / n)
			if mean < 360*time.Millisecond || mean > 440*time.Millisecond {
				t.Errorf("mean delay %v, want about %v", mean, c/2)
			}
			for i, q := range quarters {
				if q < n/4*8/10 || q > n/4*12/10 {
					t.Errorf("quarter %d of the range got %d of %d samples, want about %d", i, q, n, n/4)
				}
			}
		})
	}
}

func TestWait(t *testing.T) {
	cause := errors.New("client went away")
	tests := []struct {
		name    string
		d       time.Duration
		cancel  time.Duration // cancel ctx with cause after this long; 0 never, <0 before Wait
		want    error
		elapsed time.Duration
	}{
		{"full wait", 5 * time.Second, 0, nil, 5 * time.Second},
		{"zero duration returns at once", 0, 0, nil, 0},
		{"negative duration returns at once", -time.Second, 0, nil, 0},
		{"cancel during wait returns cause", 5 * time.Second, time.Second, cause, time.Second},
		{"cancelled before wait", 5 * time.Second, -1, cause, 0},
		{"cancelled before zero wait", 0, -1, cause, 0},
		{"cancel after wait ends", time.Second, 2 * time.Second, nil, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(t.Context())
				defer cancel(nil)
				switch {
				case tt.cancel < 0:
					cancel(cause)
				case tt.cancel > 0:
					stop := time.AfterFunc(tt.cancel, func() { cancel(cause) })
					defer stop.Stop()
				}
				start := time.Now()
				err := Wait(ctx, tt.d)
				if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Errorf("Wait = %v, want %v", err, tt.want)
				}
				if got := time.Since(start); got != tt.elapsed {
					t.Errorf("Wait took %v, want %v", got, tt.elapsed)
				}
			})
		})
	}
	t.Run("deadline cause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if err := Wait(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Wait = %v, want %v", err, context.DeadlineExceeded)
			}
		})
	})
}

func BenchmarkDelay(b *testing.B) {
	p := Policy{Initial: 250 * time.Millisecond, Max: 5 * time.Second}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		_ = p.Delay(n&7, nil)
		n++
	}
}
