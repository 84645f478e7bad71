package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/internal/breaker"
)

// failingCollector fails every scrape.
type failingCollector struct{ desc *prometheus.Desc }

func (f failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }
func (f failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(f.desc, errors.New("source unavailable"))
}

func TestHandler(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg, Options{
		Circuits: &fakeCircuits{snaps: []breaker.Snapshot{{Channel: "a/gpt-4o", State: breaker.Open, ConsecutiveFailures: 3}}},
		LogQueue: &fakeQueue{depth: 2},
		Runtime:  true,
	})
	m.InFlight(true, 1)
	m.RateLimited(ScopeGroup)
	m.RequestFinished(Request{Endpoint: EndpointChat, Model: "gpt", Channel: "a", Status: 200, Duration: 1,
		TTFB: 1, Overhead: 1, PromptTokens: 1, CostMicros: 1},
		[]Attempt{{Channel: "b", Class: "timeout", Phase: PhaseConnect}, {Channel: "a"}})
	reg.MustRegister(failingCollector{prometheus.NewDesc("tollgate_test_broken", "Always fails.", nil, nil)})

	srv := httptest.NewServer(Handler(reg))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 despite a failing collector: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	cases := []string{
		`tollgate_requests_total{channel="a",endpoint="chat",error_type="none",model="gpt",status="200"} 1`,
		`tollgate_request_duration_seconds_count{endpoint="chat",stream="false"} 1`,
		`tollgate_time_to_first_byte_seconds_count{endpoint="chat",stream="false"} 1`,
		`tollgate_overhead_seconds_count 1`,
		`tollgate_tokens_total{kind="prompt",model="gpt"} 1`,
		`tollgate_cost_micros_total{model="gpt"} 1`,
		`tollgate_upstream_attempts_total{channel="b",result="timeout"} 1`,
		`tollgate_retries_total{reason="timeout"} 1`,
		`tollgate_failovers_total{reason="timeout"} 1`,
		`tollgate_fallbacks_total 0`,
		`tollgate_continuations_total 0`,
		`tollgate_truncated_streams_total 0`,
		`tollgate_timeouts_total{phase="connect"} 1`,
		`tollgate_rate_limited_total{scope="group"} 1`,
		`tollgate_in_flight_requests{stream="true"} 1`,
		`tollgate_circuit_state{channel="a",state="open",upstream_model="gpt-4o"} 1`,
		`tollgate_circuit_consecutive_failures{channel="a",upstream_model="gpt-4o"} 3`,
		`tollgate_request_log_queue_depth 2`,
		`tollgate_request_log_dropped_total 0`,
		`tollgate_request_log_written_total 0`,
		`go_goroutines `,
		`process_start_time_seconds `,
	}
	for _, want := range cases {
		t.Run(want, func(t *testing.T) {
			if !strings.Contains(body, want) {
				t.Errorf("exposition lacks %q", want)
			}
		})
	}
}
