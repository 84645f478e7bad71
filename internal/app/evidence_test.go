package app_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tollgate/tollgate/internal/store"
)

// evidenceConfig is one simulator channel with small phase timeouts, two
// attempts per request and millisecond backoffs, so that every fault runs
// its whole course (retries, timeouts) within a fraction of a second. The
// total deadline (2s) is shorter than the Retry-After of ev-429-wait, so
// that 429 is answered at once instead of waited out. %s is "true" or
// "false" for stream continuation, the second %s the fault of model "ev"
// on channel sim, and the third is empty or adds channel backup as a
// second route.
const evidenceConfig = `
database: {path: ":memory:"}
request_log: {flush_interval: 10ms}
prices:
  ev: {input: "1", output: "2"}
upstream:
  retry: {max_attempts: 2, backoff_initial: 1ms, backoff_max: 5ms}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
  timeouts: {response_header: 100ms, first_token: 100ms, idle: 100ms, total: 2s}
  continuation: {enabled: %s}
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {length: 12}
      models:
        ev: {length: 12, fault: %s}
  - {name: backup, provider: simulator}
models:
  - {name: ev, routes: [{channel: sim}%s]}
`

// evidence is what one request must leave behind: its log row and the
// increments of the metrics that explain it.
type evidence struct {
	status    int
	errorType string
	phase     string
	attempts  int
	truncated bool
	charged   bool
	continued bool
	estimated bool // usage estimated by tollgate
	// attemptResults counts tollgate_upstream_attempts_total by result.
	attemptResults map[string]float64
	// timeouts counts tollgate_timeouts_total by phase.
	timeouts map[string]float64
	// retries and failovers count tollgate_retries_total and
	// tollgate_failovers_total by reason.
	retries, failovers map[string]float64
}

// TestFaultEvidence injects each fault the simulator can produce, on a
// stream and a non-stream request where the fault means something for
// both, and checks that the request log row and the metric increments
// say what happened: status, error type, failed phase, attempts,
// truncation, charging and continuation.
func TestFaultEvidence(t *testing.T) {
	t.Parallel()
	ok := func(attempts ...string) map[string]float64 {
		m := map[string]float64{}
		for _, a := range attempts {
			m[a]++
		}
		return m
	}
	tests := []struct {
		name  string
		fault string
		cont  bool
		// backup adds a healthy second channel to fail over to.
		backup bool
		stream bool
		want   evidence
	}{
		{name: "healthy", fault: "{}", want: evidence{status: 200, attempts: 1, charged: true, attemptResults: ok("ok")}},
		{name: "healthy", fault: "{}", stream: true, want: evidence{status: 200, attempts: 1, charged: true, attemptResults: ok("ok")}},
		{
			name: "429 with Retry-After beyond the deadline", fault: "{kind: status, status: 429, retry_after: 5s}",
			want: evidence{status: 429, errorType: "rate_limit_exceeded", phase: "response_header", attempts: 1, attemptResults: ok("rate_limit")},
		},
		{
			name: "429 with Retry-After beyond the deadline", fault: "{kind: status, status: 429, retry_after: 5s}", stream: true,
			want: evidence{status: 429, errorType: "rate_limit_exceeded", phase: "response_header", attempts: 1, attemptResults: ok("rate_limit")},
		},
		{
			name: "429 without Retry-After", fault: "{kind: status, status: 429}",
			want: evidence{status: 429, errorType: "rate_limit_exceeded", phase: "response_header", attempts: 2,
				attemptResults: ok("rate_limit", "rate_limit"), retries: ok("rate_limit")},
		},
		{
			name: "429 once then served", fault: "{kind: status, status: 429, times: 1}", stream: true,
			want: evidence{status: 200, phase: "response_header", attempts: 2, charged: true, attemptResults: ok("rate_limit", "ok"), retries: ok("rate_limit")},
		},
		{
			name: "500", fault: "{kind: status, status: 500}",
			want: evidence{status: 502, errorType: "server_error", phase: "response_header", attempts: 2,
				attemptResults: ok("server_error", "server_error"), retries: ok("server_error")},
		},
		{
			name: "503 once then served", fault: "{kind: status, status: 503, times: 1}",
			want: evidence{status: 200, phase: "response_header", attempts: 2, charged: true, attemptResults: ok("server_error", "ok"), retries: ok("server_error")},
		},
		{
			name: "reset", fault: "{kind: reset}", stream: true,
			want: evidence{status: 502, errorType: "upstream_network", phase: "response_header", attempts: 2,
				attemptResults: ok("server_error", "server_error"), retries: ok("server_error")},
		},
		{
			name: "no response: response header timeout", fault: "{kind: no_response}",
			want: evidence{status: 504, errorType: "upstream_timeout", phase: "response_header", attempts: 1,
				attemptResults: ok("timeout"), timeouts: ok("response_header")},
		},
		{
			name: "no response: response header timeout", fault: "{kind: no_response}", stream: true,
			want: evidence{status: 504, errorType: "upstream_timeout", phase: "response_header", attempts: 1,
				attemptResults: ok("timeout"), timeouts: ok("response_header")},
		},
		{
			name: "no response: failover after the response header timeout", fault: "{kind: no_response}", backup: true,
			want: evidence{status: 200, phase: "response_header", attempts: 2, charged: true,
				attemptResults: ok("timeout", "ok"), timeouts: ok("response_header"), retries: ok("timeout"), failovers: ok("timeout")},
		},
		{
			name: "slow first token: first token timeout", fault: "{kind: slow_first_token, delay: 5s}", stream: true,
			want: evidence{status: 504, errorType: "upstream_timeout", phase: "first_token", attempts: 1,
				attemptResults: ok("timeout"), timeouts: ok("first_token")},
		},
		{
			name: "slow first token: failover after the first token timeout", fault: "{kind: slow_first_token, delay: 5s}", stream: true, backup: true,
			want: evidence{status: 200, phase: "first_token", attempts: 2, charged: true,
				attemptResults: ok("timeout", "ok"), timeouts: ok("first_token"), retries: ok("timeout"), failovers: ok("timeout")},
		},
		{
			name: "stall after content: idle timeout", fault: "{kind: stall, after: 3}", stream: true,
			want: evidence{status: 200, errorType: "upstream_timeout", phase: "idle", attempts: 1, truncated: true,
				attemptResults: ok("timeout"), timeouts: ok("idle")},
		},
		{
			name: "cut after content, continuation off", fault: "{kind: cut, after: 4}", stream: true,
			want: evidence{status: 200, errorType: "upstream_network", phase: "idle", attempts: 1, truncated: true,
				attemptResults: ok("server_error")},
		},
		{
			name: "cut after content, continuation on", fault: "{kind: cut, after: 4, times: 1}", stream: true, cont: true,
			want: evidence{status: 200, phase: "idle", attempts: 2, charged: true, continued: true, estimated: true,
				attemptResults: ok("server_error", "ok"), retries: ok("server_error")},
		},
		{
			name: "cut body", fault: "{kind: cut, times: 1}",
			want: evidence{status: 200, phase: "body", attempts: 2, charged: true,
				attemptResults: ok("server_error", "ok"), retries: ok("server_error")},
		},
		{
			name: "malformed chunk is skipped", fault: "{kind: malformed_chunk, after: 3}", stream: true,
			want: evidence{status: 200, attempts: 1, charged: true, attemptResults: ok("ok")},
		},
		{
			name: "malformed body once", fault: "{kind: malformed_chunk, times: 1}",
			want: evidence{status: 200, phase: "body", attempts: 2, charged: true,
				attemptResults: ok("server_error", "ok"), retries: ok("server_error")},
		},
		{
			name: "no [DONE] after the finish", fault: "{kind: no_done}", stream: true,
			want: evidence{status: 200, attempts: 1, charged: true, attemptResults: ok("ok")},
		},
		// An upstream that reports no usage is served and charged on an
		// estimate, which the row marks as such.
		{
			name: "no usage", fault: "{kind: no_usage}",
			want: evidence{status: 200, attempts: 1, charged: true, estimated: true, attemptResults: ok("ok")},
		},
		{
			name: "no usage", fault: "{kind: no_usage}", stream: true,
			want: evidence{status: 200, attempts: 1, charged: true, estimated: true, attemptResults: ok("ok")},
		},
		{
			name: "context length exceeded", fault: "{kind: status, status: 400, code: context_length_exceeded}",
			want: evidence{status: 400, errorType: "context_length_exceeded", phase: "response_header", attempts: 1, attemptResults: ok("context_length_exceeded")},
		},
		{
			name: "context length exceeded", fault: "{kind: status, status: 400, code: context_length_exceeded}", stream: true,
			want: evidence{status: 400, errorType: "context_length_exceeded", phase: "response_header", attempts: 1, attemptResults: ok("context_length_exceeded")},
		},
		{
			name: "content filter", fault: "{kind: status, status: 400, code: content_filter}",
			want: evidence{status: 400, errorType: "content_filter", phase: "response_header", attempts: 1, attemptResults: ok("content_filter")},
		},
	}
	for _, tt := range tests {
		name := tt.name + "/non-stream"
		if tt.stream {
			name = tt.name + "/stream"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backup := ""
			if tt.backup {
				backup = ", {channel: backup, priority: 1}"
			}
			g := newGateway(t, fmt.Sprintf(evidenceConfig, fmt.Sprint(tt.cont), tt.fault, backup))
			reg := g.app.Registry()
			if reg == nil {
				t.Fatal("metrics are off")
			}
			before := gather(t, reg)
			extra := ""
			if tt.stream {
				extra = `"stream":true,"stream_options":{"include_usage":true}`
			}
			resp, _ := g.do(t, http.MethodPost, "/v1/chat/completions", chatBody("ev", "evidence "+tt.name, extra), nil)
			id := resp.Header.Get("X-Request-Id")
			row := rowByID(t, g.requestLogs(t), id)
			after := gather(t, reg)
			checkRow(t, row, tt.want)
			checkMetrics(t, before, after, tt.want)
		})
	}
}

// checkRow compares a request log row with what a fault must leave.
func checkRow(t *testing.T, row store.RequestLog, want evidence) {
	t.Helper()
	got := evidence{status: row.Status, errorType: row.ErrorType, phase: row.FailedPhase, attempts: row.Attempts,
		truncated: row.Truncated, charged: row.Charged, continued: row.Continued, estimated: row.UsageEstimated}
	want.attemptResults, want.timeouts, want.retries, want.failovers = nil, nil, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log row = %+v\nwant      %+v\n(message %q, reasons %q)", got, want, row.ErrorMessage, row.RetryReasons)
	}
	if len(row.Timeline) != 0 && len(row.Timeline) != row.Attempts {
		t.Errorf("timeline has %d attempts, row says %d", len(row.Timeline), row.Attempts)
	}
	if row.Charged != (row.CostMicros > 0) && row.TotalTokens > 0 {
		t.Errorf("charged %v with cost %d", row.Charged, row.CostMicros)
	}
}

// checkMetrics compares the metric increments of one request with what
// its fault must add.
func checkMetrics(t *testing.T, before, after metricSet, want evidence) {
	t.Helper()
	delta := func(name string, labels ...string) float64 {
		return after.sum(name, labels...) - before.sum(name, labels...)
	}
	status := fmt.Sprint(want.status)
	if d := delta("tollgate_requests_total", "status", status, "model", "ev"); d != 1 {
		t.Errorf("requests_total{status=%s,model=ev} += %v, want 1", status, d)
	}
	if want.errorType != "" {
		if d := delta("tollgate_requests_total", "error_type", want.errorType); d != 1 {
			t.Errorf("requests_total{error_type=%s} += %v, want 1", want.errorType, d)
		}
	}
	checkCounts(t, "tollgate_upstream_attempts_total", "result", want.attemptResults, delta)
	checkCounts(t, "tollgate_timeouts_total", "phase", want.timeouts, delta)
	checkCounts(t, "tollgate_retries_total", "reason", want.retries, delta)
	checkCounts(t, "tollgate_failovers_total", "reason", want.failovers, delta)
	flags := []struct {
		name string
		want bool
	}{
		{"tollgate_truncated_streams_total", want.truncated},
		{"tollgate_continuations_total", want.continued},
	}
	for _, f := range flags {
		w := 0.0
		if f.want {
			w = 1
		}
		if d := delta(f.name); d != w {
			t.Errorf("%s += %v, want %v", f.name, d, w)
		}
	}
}

// checkCounts checks the increments of a counter by one label: exactly
// the counts in want, and nothing in total beyond them.
func checkCounts(t *testing.T, name, label string, want map[string]float64, delta func(string, ...string) float64) {
	t.Helper()
	var total float64
	for v, n := range want {
		total += n
		if d := delta(name, label, v); d != n {
			t.Errorf("%s{%s=%q} += %v, want %v", name, label, v, d, n)
		}
	}
	if d := delta(name); d != total {
		t.Errorf("%s += %v in all, want %v", name, d, total)
	}
}

// metricSet is a gathered registry.
type metricSet []*dto.MetricFamily

// gather reads every metric of reg.
func gather(t *testing.T, reg prometheus.Gatherer) metricSet {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	return mfs
}

// sum adds the counter or gauge values of the series of metric name whose
// labels include the given name, value pairs.
func (ms metricSet) sum(name string, labels ...string) float64 {
	var total float64
	for _, mf := range ms {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue series
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

func labelValue(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
