package retrybudget

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// step is one action in a scripted scenario.
type step struct {
	sleep    time.Duration // advance the fake clock first
	requests int           // then count this many first attempts
	retries  int           // then try this many retries
	granted  int           // how many of them must be allowed
}

func TestTryRetry(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		steps []step
	}{
		{
			name:  "failure burst is held to ratio plus floor",
			opts:  DefaultOptions(),
			steps: []step{{requests: 100, retries: 100, granted: 20 + 10}},
		},
		{
			name:  "floor allows retries at zero traffic",
			opts:  DefaultOptions(),
			steps: []step{{retries: 15, granted: 10}},
		},
		{
			name: "no floor and no traffic allows nothing",
			opts: Options{Ratio: 0.2, Window: 10 * time.Second},
			steps: []step{
				{retries: 3, granted: 0},
				{requests: 4, retries: 3, granted: 0},
				{requests: 1, retries: 3, granted: 1},
			},
		},
		{
			name: "ratio zero allows only the floor",
			opts: Options{Ratio: 0, Window: 10 * time.Second, MinPerSecond: 0.5},
			steps: []step{
				{requests: 1000, retries: 10, granted: 5},
			},
		},
		{
			name: "negative settings count as zero",
			opts: Options{Ratio: -1, MinPerSecond: -1},
			steps: []step{
				{requests: 1000, retries: 10, granted: 0},
			},
		},
		{
			name: "budget grows with traffic",
			opts: DefaultOptions(),
			steps: []step{
				{requests: 10, retries: 20, granted: 12},
				{requests: 10, retries: 20, granted: 2},
				{requests: 4, retries: 1, granted: 0},
				{requests: 1, retries: 1, granted: 1},
			},
		},
		{
			name: "window sliding forgets old counts",
			opts: DefaultOptions(),
			steps: []step{
				{requests: 100, retries: 100, granted: 30},
				{sleep: 5 * time.Second, retries: 1, granted: 0},
				{sleep: 5 * time.Second, retries: 100, granted: 10},
			},
		},
		{
			name: "only the buckets that left the window are forgotten",
			opts: DefaultOptions(),
			steps: []step{
				{requests: 50, retries: 20, granted: 20},                                // t=0: allowed 20 of 10+10
				{sleep: 5 * time.Second, requests: 50, retries: 20, granted: 10},        // t=5s: 100 requests, allowed 30
				{sleep: 5 * time.Second, retries: 20, granted: 10},                      // t=10s: t=0 gone: 50 requests, 10 retries, allowed 20
				{sleep: 500 * time.Millisecond, requests: 50, retries: 20, granted: 10}, // 100 requests, 20 retries, allowed 30
				{sleep: 5 * time.Second, retries: 20, granted: 0},                       // t=15.5s: t=5s gone: 50 requests, 20 retries, allowed 20
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := New(tt.opts)
				for i, s := range tt.steps {
					time.Sleep(s.sleep)
					for range s.requests {
						b.Request("ch")
					}
					granted := 0
					for range s.retries {
						if b.TryRetry("ch") {
							granted++
						}
					}
					if granted != s.granted {
						req, ret := b.Stats("ch")
						t.Fatalf("step %d: %d of %d retries granted, want %d (window: %d requests, %d retries)",
							i, granted, s.retries, s.granted, req, ret)
					}
				}
			})
		})
	}
}

func TestStats(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New(Options{Ratio: 1, MinPerSecond: 0, Channels: []string{"configured"}, Now: func() time.Time { return now }})
	for range 7 {
		b.Request("a")
	}
	for range 3 {
		b.TryRetry("a")
	}
	b.Request("b")
	checks := []struct {
		name                    string
		channel                 string
		wantRequests, wantRetry int
	}{
		{"counts first attempts and granted retries", "a", 7, 3},
		{"channels are independent", "b", 1, 0},
		{"configured channel starts empty", "configured", 0, 0},
		{"unknown channel is empty", "nope", 0, 0},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			req, ret := b.Stats(c.channel)
			if req != c.wantRequests || ret != c.wantRetry {
				t.Errorf("Stats(%q) = %d, %d; want %d, %d", c.channel, req, ret, c.wantRequests, c.wantRetry)
			}
		})
	}
	if _, ok := (*b.channels.Load())["nope"]; ok {
		t.Error("Stats added an unknown channel")
	}
	now = now.Add(DefaultWindow)
	if req, ret := b.Stats("a"); req != 0 || ret != 0 {
		t.Errorf("after a window Stats = %d, %d; want 0, 0", req, ret)
	}
}

func TestClockSteppingBackKeepsCounting(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New(Options{Ratio: 1, Window: 10 * time.Second, Now: func() time.Time { return now }})
	b.Request("ch")
	now = now.Add(-time.Hour)
	b.Request("ch")
	if req, _ := b.Stats("ch"); req != 2 {
		t.Errorf("requests = %d, want 2", req)
	}
}

func TestConcurrentUse(t *testing.T) {
	now := time.Unix(1000, 0)
	opts := DefaultOptions()
	opts.Now = func() time.Time { return now } // frozen: every call sees one window
	const workers, perWorker = 8, 500
	t.Run("retries after traffic get exactly the budget", func(t *testing.T) {
		b := New(opts)
		run(workers, func(int) {
			for range perWorker {
				b.Request("ch")
			}
		})
		var granted atomic.Int64
		run(workers, func(int) {
			for range perWorker {
				if b.TryRetry("ch") {
					granted.Add(1)
				}
			}
		})
		if want := int64(0.2*workers*perWorker + 10); granted.Load() != want {
			t.Errorf("granted %d retries, want %d", granted.Load(), want)
		}
	})
	t.Run("mixed traffic on new channels stays within budget", func(t *testing.T) {
		b := New(opts)
		var granted [4]atomic.Int64
		run(workers, func(w int) {
			for i := range perWorker {
				ch := i % len(granted)
				name := fmt.Sprintf("ch%d", ch)
				b.Request(name)
				if b.TryRetry(name) {
					granted[ch].Add(1)
				}
			}
		})
		for ch := range granted {
			name := fmt.Sprintf("ch%d", ch)
			req, ret := b.Stats(name)
			if req != workers*perWorker/len(granted) || int64(ret) != granted[ch].Load() {
				t.Errorf("%s: Stats = %d, %d; want %d requests and %d retries", name, req, ret, workers*perWorker/len(granted), granted[ch].Load())
			}
			if limit := int(0.2*float64(req) + 10); ret > limit {
				t.Errorf("%s: %d retries granted, budget is %d", name, ret, limit)
			}
		}
	})
}

// run calls f from n goroutines and waits for them.
func run(n int, f func(worker int)) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

func BenchmarkRequestAndTryRetry(b *testing.B) {
	bud := New(Options{Ratio: 0.2, MinPerSecond: 1, Channels: []string{"ch"}})
	b.ReportAllocs()
	for b.Loop() {
		bud.Request("ch")
		bud.TryRetry("ch")
	}
}

func BenchmarkRequestParallel(b *testing.B) {
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	bud := New(Options{Ratio: 0.2, MinPerSecond: 1, Channels: names})
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		name := names[int(next.Add(1))%len(names)]
		for pb.Next() {
			bud.Request(name)
		}
	})
}
