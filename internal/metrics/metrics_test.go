package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// value is the expected value of one counter series.
type value struct {
	metric string // name without the namespace
	labels []string
	want   float64
}

// counter returns the series of metric with labels, for testutil.ToFloat64.
func counter(t *testing.T, m *Metrics, metric string, labels []string) prometheus.Collector {
	t.Helper()
	switch metric {
	case "requests_total":
		return m.requests.WithLabelValues(labels...)
	case "tokens_total":
		return m.tokens.WithLabelValues(labels...)
	case "cost_micros_total":
		return m.cost.WithLabelValues(labels...)
	case "upstream_attempts_total":
		return m.attempts.WithLabelValues(labels...)
	case "retries_total":
		return m.retries.WithLabelValues(labels...)
	case "failovers_total":
		return m.failovers.WithLabelValues(labels...)
	case "timeouts_total":
		return m.timeoutsVec.WithLabelValues(labels...)
	case "fallbacks_total":
		return m.fallbacks
	case "continuations_total":
		return m.continuations
	case "truncated_streams_total":
		return m.truncated
	}
	t.Fatalf("no metric %s", metric)
	return nil
}

// histogramCount returns how many observations the series of metric with
// labels holds.
func histogramCount(t *testing.T, m *Metrics, metric string, labels ...string) uint64 {
	t.Helper()
	var obs prometheus.Observer
	switch metric {
	case "request_duration_seconds":
		obs = m.durationVec.WithLabelValues(labels...)
	case "time_to_first_byte_seconds":
		obs = m.ttfbVec.WithLabelValues(labels...)
	case "overhead_seconds":
		obs = m.overhead
	default:
		t.Fatalf("no histogram %s", metric)
	}
	var d dto.Metric
	if err := obs.(prometheus.Metric).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}

func TestRequestFinished(t *testing.T) {
	t.Parallel()
	ok := Request{Endpoint: EndpointChat, Model: "gpt", Channel: "a", Status: 200, Duration: 2 * time.Second}
	cases := []struct {
		name     string
		req      Request
		attempts []Attempt
		values   []value
		// series is how many series each labelled counter holds, to
		// catch counts that should not exist; unlisted ones hold none.
		// A model's token and cost series, and a reason's retry and
		// failover series, appear together.
		series map[string]int
	}{{
		name: "success counts request tokens cost and one attempt",
		req: Request{Endpoint: EndpointChat, Model: "gpt", Channel: "a", Status: 200, Duration: 2 * time.Second,
			PromptTokens: 10, CompletionTokens: 5, CostMicros: 70},
		attempts: []Attempt{{Channel: "a"}},
		values: []value{
			{"requests_total", []string{"chat", "gpt", "a", "200", "none"}, 1},
			{"tokens_total", []string{"gpt", "prompt"}, 10},
			{"tokens_total", []string{"gpt", "completion"}, 5},
			{"cost_micros_total", []string{"gpt"}, 70},
			{"upstream_attempts_total", []string{"a", "ok"}, 1},
		},
		series: map[string]int{"requests_total": 1, "tokens_total": 2, "cost_micros_total": 1, "upstream_attempts_total": 1},
	}, {
		name:     "same-channel retry after a timeout is a retry, not a failover",
		req:      ok,
		attempts: []Attempt{{Channel: "a", Class: "timeout", Phase: PhaseFirstToken}, {Channel: "a", Retry: true}},
		values: []value{
			{"upstream_attempts_total", []string{"a", "timeout"}, 1},
			{"upstream_attempts_total", []string{"a", "ok"}, 1},
			{"retries_total", []string{"timeout"}, 1},
			{"failovers_total", []string{"timeout"}, 0},
			{"timeouts_total", []string{"first_token"}, 1},
		},
		series: map[string]int{"requests_total": 1, "upstream_attempts_total": 2, "retries_total": 1, "failovers_total": 1},
	}, {
		name:     "move to another channel is a retry and a failover",
		req:      Request{Endpoint: EndpointChat, Model: "gpt", Channel: "b", Status: 200},
		attempts: []Attempt{{Channel: "a", Class: "rate_limit"}, {Channel: "b"}},
		values: []value{
			{"requests_total", []string{"chat", "gpt", "b", "200", "none"}, 1},
			{"retries_total", []string{"rate_limit"}, 1},
			{"failovers_total", []string{"rate_limit"}, 1},
		},
		series: map[string]int{"requests_total": 1, "upstream_attempts_total": 2, "retries_total": 1, "failovers_total": 1},
	}, {
		name: "retry then failover then fallback",
		req:  Request{Endpoint: EndpointChat, Model: "small", Channel: "c", Status: 200, Fallback: true},
		attempts: []Attempt{
			{Channel: "a", Class: "server_error"},
			{Channel: "a", Class: "timeout", Phase: PhaseConnect, Retry: true},
			{Channel: "b", Class: "server_error"},
			{Channel: "c", Fallback: true},
		},
		values: []value{
			{"retries_total", []string{"server_error"}, 2},
			{"retries_total", []string{"timeout"}, 1},
			{"failovers_total", []string{"timeout"}, 1},
			{"failovers_total", []string{"server_error"}, 1},
			{"fallbacks_total", nil, 1},
			{"timeouts_total", []string{"connect"}, 1},
			{"upstream_attempts_total", []string{"a", "server_error"}, 1},
			{"upstream_attempts_total", []string{"b", "server_error"}, 1},
		},
		series: map[string]int{"requests_total": 1, "upstream_attempts_total": 4, "retries_total": 2, "failovers_total": 2},
	}, {
		name:     "fallback on the same channel is a failover",
		req:      Request{Endpoint: EndpointChat, Model: "big", Channel: "a", Status: 200, Fallback: true},
		attempts: []Attempt{{Channel: "a", Class: "context_length_exceeded"}, {Channel: "a", Fallback: true}},
		values: []value{
			{"retries_total", []string{"context_length_exceeded"}, 1},
			{"failovers_total", []string{"context_length_exceeded"}, 1},
		},
		series: map[string]int{"requests_total": 1, "upstream_attempts_total": 2, "retries_total": 1, "failovers_total": 1},
	}, {
		name: "timeouts count by phase, unnamed and unlisted phases apart",
		req:  Request{Endpoint: EndpointChat, Model: "gpt", Status: 504, ErrorType: "timeout"},
		attempts: []Attempt{
			{Channel: "a", Class: "timeout", Phase: PhaseIdle},
			{Channel: "a", Class: "timeout", Phase: ""},
			{Channel: "b", Class: "timeout", Phase: "Not A Phase"},
			{Channel: "b", Class: "server_error", Phase: PhaseIdle},
		},
		values: []value{
			{"requests_total", []string{"chat", "gpt", "none", "504", "timeout"}, 1},
			{"timeouts_total", []string{"idle"}, 1},
			{"timeouts_total", []string{"unknown"}, 1},
			{"timeouts_total", []string{"other"}, 1},
			{"retries_total", []string{"timeout"}, 3},
			{"failovers_total", []string{"timeout"}, 1},
		},
		series: map[string]int{"requests_total": 1, "upstream_attempts_total": 3, "retries_total": 1, "failovers_total": 1},
	}, {
		name: "free-form and out-of-range labels are sanitised",
		req: Request{Endpoint: "/v1/chat/completions?x=1", Model: "", Channel: "", Status: 0,
			ErrorType: "Invalid Request: key sk-123"},
		attempts: []Attempt{
			{Channel: "a", Class: "rate-limit"},
			{Channel: "a", Class: strings.Repeat("x", 41)},
			{Channel: "a\xff", Class: strings.Repeat("y", 40)},
		},
		values: []value{
			{"requests_total", []string{"other", "unknown", "none", "other", "other"}, 1},
			{"upstream_attempts_total", []string{"a", "other"}, 2},
			{"upstream_attempts_total", []string{"other", strings.Repeat("y", 40)}, 1},
			{"retries_total", []string{"other"}, 2},
			{"failovers_total", []string{"other"}, 1},
		},
		series: map[string]int{"requests_total": 1, "upstream_attempts_total": 2, "retries_total": 1, "failovers_total": 1},
	}, {
		name: "cut stream continued and truncated",
		req: Request{Endpoint: EndpointCompletions, Model: "gpt", Channel: "b", Stream: true, Status: 200,
			Continued: true, Truncated: true, CompletionTokens: 3},
		attempts: []Attempt{{Channel: "a", Class: "server_error"}, {Channel: "b"}},
		values: []value{
			{"requests_total", []string{"completions", "gpt", "b", "200", "none"}, 1},
			{"continuations_total", nil, 1},
			{"truncated_streams_total", nil, 1},
			{"fallbacks_total", nil, 0},
			{"tokens_total", []string{"gpt", "completion"}, 3},
		},
		series: map[string]int{"requests_total": 1, "tokens_total": 2, "cost_micros_total": 1, "upstream_attempts_total": 2,
			"retries_total": 1, "failovers_total": 1},
	}, {
		name: "no attempts and negative amounts count only the request",
		req: Request{Endpoint: EndpointModels, Model: "unknown", Status: 200,
			PromptTokens: -1, CompletionTokens: -2, CostMicros: -3},
		values: []value{
			{"requests_total", []string{"models", "unknown", "none", "200", "none"}, 1},
		},
		series: map[string]int{"requests_total": 1},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(prometheus.NewRegistry(), Options{})
			m.RequestFinished(tc.req, tc.attempts)
			for _, v := range tc.values {
				if got := testutil.ToFloat64(counter(t, m, v.metric, v.labels)); got != v.want {
					t.Errorf("%s%q = %v, want %v", v.metric, v.labels, got, v.want)
				}
			}
			// Counted after the lookups above, which may create series.
			vecs := map[string]prometheus.Collector{
				"requests_total": m.requests, "tokens_total": m.tokens, "cost_micros_total": m.cost,
				"upstream_attempts_total": m.attempts, "retries_total": m.retries, "failovers_total": m.failovers,
			}
			for name, c := range vecs {
				if got := testutil.CollectAndCount(c); got != tc.series[name] {
					t.Errorf("%s has %d series, want %d", name, got, tc.series[name])
				}
			}
		})
	}
}

func TestRequestFinishedHistograms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		req      Request
		labels   []string // endpoint, stream
		duration uint64
		ttfb     uint64
		overhead uint64
	}{
		{"all observed", Request{Endpoint: EndpointChat, Duration: time.Second, TTFB: 200 * time.Millisecond, Overhead: 300 * time.Microsecond},
			[]string{"chat", "false"}, 1, 1, 1},
		{"stream without first byte or overhead", Request{Endpoint: EndpointChat, Stream: true, Duration: time.Second},
			[]string{"chat", "true"}, 1, 0, 0},
		{"zero duration is observed", Request{Endpoint: EndpointEmbeddings}, []string{"embeddings", "false"}, 1, 0, 0},
		{"negative durations are not", Request{Endpoint: EndpointAdmin, Duration: -1, TTFB: -1, Overhead: -1},
			[]string{"admin", "false"}, 0, 0, 0},
		{"unlisted endpoint is other", Request{Endpoint: "v2", Duration: time.Millisecond}, []string{"other", "false"}, 1, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(nil, Options{})
			m.RequestFinished(tc.req, nil)
			if got := histogramCount(t, m, "request_duration_seconds", tc.labels...); got != tc.duration {
				t.Errorf("duration count = %d, want %d", got, tc.duration)
			}
			if got := histogramCount(t, m, "time_to_first_byte_seconds", tc.labels...); got != tc.ttfb {
				t.Errorf("ttfb count = %d, want %d", got, tc.ttfb)
			}
			if got := histogramCount(t, m, "overhead_seconds"); got != tc.overhead {
				t.Errorf("overhead count = %d, want %d", got, tc.overhead)
			}
		})
	}
}

func TestOverheadBuckets(t *testing.T) {
	t.Parallel()
	m := New(nil, Options{})
	for _, d := range []time.Duration{40 * time.Microsecond, 700 * time.Microsecond, 200 * time.Millisecond} {
		m.RequestFinished(Request{Overhead: d}, nil)
	}
	want := `
# HELP tollgate_overhead_seconds Time spent in tollgate itself per request, excluding time waiting on upstreams.
# TYPE tollgate_overhead_seconds histogram
tollgate_overhead_seconds_bucket{le="5e-05"} 1
tollgate_overhead_seconds_bucket{le="0.0001"} 1
tollgate_overhead_seconds_bucket{le="0.00025"} 1
tollgate_overhead_seconds_bucket{le="0.0005"} 1
tollgate_overhead_seconds_bucket{le="0.001"} 2
tollgate_overhead_seconds_bucket{le="0.0025"} 2
tollgate_overhead_seconds_bucket{le="0.005"} 2
tollgate_overhead_seconds_bucket{le="0.01"} 2
tollgate_overhead_seconds_bucket{le="0.025"} 2
tollgate_overhead_seconds_bucket{le="0.05"} 2
tollgate_overhead_seconds_bucket{le="0.1"} 2
tollgate_overhead_seconds_bucket{le="+Inf"} 3
tollgate_overhead_seconds_sum 0.20074
tollgate_overhead_seconds_count 3
`
	if err := testutil.CollectAndCompare(m.overhead, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestInFlight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		calls []struct {
			stream bool
			delta  int
		}
		plain, stream float64
	}{
		{"start and end", []struct {
			stream bool
			delta  int
		}{{false, 1}, {false, -1}}, 0, 0},
		{"streams apart", []struct {
			stream bool
			delta  int
		}{{true, 1}, {true, 1}, {false, 1}, {true, -1}}, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(nil, Options{})
			for _, c := range tc.calls {
				m.InFlight(c.stream, c.delta)
			}
			if got := testutil.ToFloat64(m.inFlightVec.WithLabelValues("false")); got != tc.plain {
				t.Errorf("stream=false = %v, want %v", got, tc.plain)
			}
			if got := testutil.ToFloat64(m.inFlightVec.WithLabelValues("true")); got != tc.stream {
				t.Errorf("stream=true = %v, want %v", got, tc.stream)
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		scopes []string
		want   map[string]float64
	}{
		{"each scope", []string{ScopeKey, ScopeGroup, ScopeModel, ScopeGlobal, ScopeKey},
			map[string]float64{"key": 2, "group": 1, "model": 1, "global": 1, "other": 0}},
		{"unlisted scopes are other", []string{"key:sk-abc", "", "Key"},
			map[string]float64{"key": 0, "other": 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(nil, Options{})
			for _, s := range tc.scopes {
				m.RateLimited(s)
			}
			for scope, want := range tc.want {
				if got := testutil.ToFloat64(m.rateLimitedVec.WithLabelValues(scope)); got != want {
					t.Errorf("scope %s = %v, want %v", scope, got, want)
				}
			}
			if got := testutil.CollectAndCount(m.rateLimitedVec); got != len(scopeNames) {
				t.Errorf("%d scope series, want %d", got, len(scopeNames))
			}
		})
	}
}

func TestNilMetricsAndRegisterer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    *Metrics
	}{
		{"nil registerer with every option", New(nil, Options{Circuits: &fakeCircuits{}, LogQueue: &fakeQueue{}, Runtime: true})},
		{"nil metrics", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.m.InFlight(true, 1)
			tc.m.RateLimited(ScopeKey)
			tc.m.RequestFinished(Request{Endpoint: EndpointChat, Status: 200}, []Attempt{{Channel: "a"}})
		})
	}
}

func TestNewRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	New(reg, Options{})
	defer func() {
		if recover() == nil {
			t.Error("registering a second Metrics on one registry did not panic")
		}
	}()
	New(reg, Options{})
}

func TestMetricNamesLint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg, Options{Circuits: &fakeCircuits{}, LogQueue: &fakeQueue{}})
	m.RequestFinished(Request{Endpoint: EndpointChat, Model: "gpt", Status: 200, PromptTokens: 1, CostMicros: 1},
		[]Attempt{{Channel: "a", Class: "timeout", Phase: PhaseIdle}, {Channel: "b"}})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestTimeToFirstToken(t *testing.T) {
	tests := []struct {
		name string
		ttft time.Duration
		want uint64 // observations
	}{
		{"stream with content", 120 * time.Millisecond, 1},
		{"no content", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(nil, Options{})
			m.RequestFinished(Request{Endpoint: EndpointChat, Model: "m", Stream: true, Status: 200, TTFT: tt.ttft}, nil)
			var got uint64
			for e := range m.ttft {
				var pb dto.Metric
				if err := m.ttft[e].(prometheus.Histogram).Write(&pb); err != nil {
					t.Fatal(err)
				}
				got += pb.GetHistogram().GetSampleCount()
			}
			if got != tt.want {
				t.Fatalf("observations = %d, want %d", got, tt.want)
			}
		})
	}
}
