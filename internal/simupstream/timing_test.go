package simupstream

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// timedEvents sends a chat request through Transport and returns when the
// response headers and each SSE event arrived, relative to the start.
func timedEvents(t *testing.T, sim *Simulator, extra string) (header time.Duration, events []time.Duration) {
	t.Helper()
	start := time.Now()
	c := conn{client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"}
	resp, err := c.do(t.Context(), "/chat/completions", chatBody("m", "hi", extra))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	header = time.Since(start)
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return header, events
		}
		if strings.HasPrefix(line, "data: ") {
			events = append(events, time.Since(start))
		}
	}
}

func TestTiming(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tests := []struct {
		name       string
		profile    Profile
		extra      string
		wantHeader time.Duration
		// wantEvents are arrival times of role chunk, tokens, finish chunk, [DONE].
		wantEvents []time.Duration
	}{
		{"non-stream latency", Profile{Latency: 2 * time.Second}, "", 2 * time.Second, nil},
		{"non-stream slow first token", Profile{Fault: Fault{Kind: FaultSlowFirstToken, Delay: 3 * time.Second}}, "", 3 * time.Second, nil},
		{"stream pacing", Profile{Latency: time.Second, FirstTokenDelay: 500 * ms, TokensPerSecond: 10, Length: 3}, `"stream":true`,
			time.Second, []time.Duration{1000 * ms, 1500 * ms, 1600 * ms, 1700 * ms, 1700 * ms, 1700 * ms}},
		{"stream role chunk before first token delay", Profile{FirstTokenDelay: 2 * time.Second, Length: 1}, `"stream":true`,
			0, []time.Duration{0, 2000 * ms, 2000 * ms, 2000 * ms}},
		{"stream slow first token", Profile{Length: 2, Fault: Fault{Kind: FaultSlowFirstToken, Delay: 3 * time.Second}}, `"stream":true`,
			0, []time.Duration{0, 3000 * ms, 3000 * ms, 3000 * ms, 3000 * ms}},
		{"stream stall", Profile{Length: 3, Fault: Fault{Kind: FaultStall, After: 1, Delay: 5 * time.Second}}, `"stream":true`,
			0, []time.Duration{0, 0, 5000 * ms, 5000 * ms, 5000 * ms, 5000 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				sim := New(Options{Default: tt.profile})
				header, events := timedEvents(t, sim, tt.extra)
				if header != tt.wantHeader {
					t.Errorf("headers after %v, want %v", header, tt.wantHeader)
				}
				if tt.wantEvents != nil && !slices.Equal(events, tt.wantEvents) {
					t.Errorf("events at %v, want %v", events, tt.wantEvents)
				}
			})
		})
	}
}

func TestNoResponseWaitsForClient(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sim := New(Options{Default: Profile{Fault: Fault{Kind: FaultNoResponse}}})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		c := conn{client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"}
		_, err := c.do(ctx, "/chat/completions", chatBody("m", "hi", ""))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute {
			t.Errorf("err %v after %v, want deadline after 1m", err, time.Since(start))
		}
	})
}
