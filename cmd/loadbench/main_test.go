package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/servicetest"
	"github.com/tollgate/tollgate/internal/simupstream"
)

// TestMain lets the test binary play the benchmark's child roles, as the
// command does: run re-executes os.Executable(), which here is the test.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestRunQuick runs the whole benchmark with tiny phases, with tollgate's
// limits off and on, and checks the machinery, never the speed: every
// phase sent requests that all came back complete, the memory was read,
// the limits were in force when asked for and the report renders.
func TestRunQuick(t *testing.T) {
	for _, mode := range []string{limitsNone, limitsMemory, limitsRedis} {
		t.Run(mode, func(t *testing.T) {
			s := defaultSettings()
			if mode == limitsRedis {
				s.RedisURL = servicetest.RedisURL(t)
			}
			s.Limits = mode
			runQuick(t, s)
		})
	}
}

func runQuick(t *testing.T, s settings) {
	s.Duration, s.Warmup, s.RateDuration = 80*time.Millisecond, 20*time.Millisecond, 80*time.Millisecond
	s.Concurrency, s.Rate, s.StreamTokens, s.Rounds = 4, 200, 8, 2
	var progress bytes.Buffer
	rep, err := run(context.Background(), s, &progress)
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	if n := rep.errorCount(); n > 0 {
		t.Fatalf("%d requests failed; first: %s", n, rep.firstError())
	}
	if got, want := len(rep.Phases), 3*2*2; got != want {
		t.Fatalf("got %d phases, want %d", got, want)
	}
	for _, p := range rep.Phases {
		if p.Requests == 0 || p.P50 <= 0 || p.P99 < p.P50 {
			t.Errorf("%s %s %s: %d requests, p50 %v ms, p99 %v ms", p.Target, p.Kind, p.Mode, p.Requests, p.P50, p.P99)
		}
		if stream := p.Kind == kindStream.name; stream != (p.TTFB50 > 0) {
			t.Errorf("%s %s %s: TTFB p50 %v ms", p.Target, p.Kind, p.Mode, p.TTFB50)
		}
	}
	if rep.Memory.Go.HeapInuse == 0 || rep.Memory.Go.LogWritten == 0 {
		t.Errorf("tollgate memory or request log not read: %+v", rep.Memory.Go)
	}
	if _, err := readProc(os.Getpid()); err == nil && !rep.Memory.Known {
		t.Error("/proc is readable but tollgate's RSS is unknown")
	}
	if len(rep.Checks) != 5 {
		t.Errorf("got %d target checks, want 5", len(rep.Checks))
	}
	lc := rep.Limits
	if lc.Mode != s.Limits || len(lc.Problems) > 0 {
		t.Errorf("limits check %+v", lc)
	}
	if s.Limits != limitsNone {
		if lc.After.LimitRequests != benchKeyLimits.RPM || lc.SpentMicros <= 0 || lc.RowsWritten == 0 {
			t.Errorf("limits %s not shown in force: %+v", s.Limits, lc)
		}
		if s.Limits == limitsRedis && lc.RedisDailyRequests < int64(lc.RowsWritten)/2 {
			t.Errorf("Redis counted %d requests of %d rows", lc.RedisDailyRequests, lc.RowsWritten)
		}
	}

	var table, js bytes.Buffer
	if err := writeTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"upstream", "proxy", "tollgate", "non-stream", "stream", "Targets", "memory after the run", "tollgate limits: " + s.Limits} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := writeJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Phases) != len(rep.Phases) || back.Settings.Limits != s.Limits {
		t.Errorf("JSON report does not round-trip: %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    func(settings) bool
		wantErr bool
	}{
		{"defaults", nil, func(s settings) bool { return s == defaultSettings() }, false},
		{"quick shortens phases", []string{"-quick"}, func(s settings) bool { return s.Duration == time.Second && s.RateDuration == time.Second }, false},
		{"explicit duration beats quick", []string{"-quick", "-duration", "3s"}, func(s settings) bool { return s.Duration == 3*time.Second && s.RateDuration == time.Second }, false},
		{"zero concurrency", []string{"-concurrency", "0"}, nil, true},
		{"negative rate", []string{"-rate", "-5"}, nil, true},
		{"stray argument", []string{"extra"}, nil, true},
		{"rounds too short", []string{"-duration", "50ms", "-rounds", "10"}, nil, true},
		{"limits redis", []string{"-limits", "redis"}, func(s settings) bool { return s.Limits == limitsRedis }, false},
		{"unknown limits mode", []string{"-limits", "sqlite"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := parseFlags(tt.args, new(bytes.Buffer))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.want != nil && !tt.want(s) {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.99, 10}, {0.1, 1}, {0, 1}, {1, 10}}
	for _, tt := range tests {
		if got := quantile(sorted, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v, want 0", got)
	}
}

func TestKeepTail(t *testing.T) {
	w := &worker{}
	kept := 0
	for _, chunk := range []string{"data: {}\n\ndata: [DO", "NE]", "\n", "\n"} {
		kept = w.keepTail([]byte(chunk), kept)
	}
	if got := string(w.tail[len(w.tail)-kept:]); got != string(streamEnd) {
		t.Errorf("tail = %q, want %q", got, streamEnd)
	}
	w, kept = &worker{}, 0
	kept = w.keepTail([]byte("ab"), kept)
	if got := string(w.tail[len(w.tail)-kept:]); got != "ab" {
		t.Errorf("short tail = %q, want %q", got, "ab")
	}
}

// TestWorkerChecksAnswers injects the simulator's faults and checks that
// the generator counts each broken answer as an error, so a benchmark of a
// target that cuts streams cannot look healthy.
func TestWorkerChecksAnswers(t *testing.T) {
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"cut":     {Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 3}},
		"no-done": {Fault: simupstream.Fault{Kind: simupstream.FaultNoDone}},
		"status":  {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 503}},
	}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	tests := []struct {
		model   string
		stream  bool
		wantErr string
	}{
		{"healthy", false, ""},
		{"healthy", true, ""},
		{"status", false, "status 503"},
		{"status", true, "status 503"},
		{"no-done", true, "without data: [DONE]"},
		{"cut", true, ""}, // any error: the connection is cut mid-stream
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s stream=%v", tt.model, tt.stream), func(t *testing.T) {
			body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]`, tt.model)
			if tt.stream {
				body += `,"stream":true`
			}
			l := &load{client: srv.Client(), target: target{name: "sim", url: srv.URL + "/v1/chat/completions"},
				kind: kind{name: tt.model, stream: tt.stream, body: []byte(body + "}")}, auth: []string{"Bearer x"}, workers: 1}
			w := worker{load: l, ctx: t.Context(), buf: make([]byte, 512), s: new(samples)}
			w.measure()
			healthy := tt.model == "healthy"
			if got := w.s.errors; got != 0 == healthy {
				t.Fatalf("errors = %d (first %v), want healthy=%v", got, w.s.firstErr, healthy)
			}
			if healthy {
				if len(w.s.lat) != 1 || tt.stream != (len(w.s.ttfb) == 1) {
					t.Errorf("samples: %d latencies, %d TTFBs", len(w.s.lat), len(w.s.ttfb))
				}
				return
			}
			if !strings.Contains(w.s.firstErr.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", w.s.firstErr, tt.wantErr)
			}
		})
	}
}
