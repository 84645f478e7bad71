package metrics

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/internal/breaker"
	"github.com/tollgate/tollgate/internal/reqlog"
)

var _ LogQueue = (*reqlog.Writer)(nil)

// fakeCircuits is a CircuitSource with settable snapshots.
type fakeCircuits struct {
	mu    sync.Mutex
	snaps []breaker.Snapshot
}

func (f *fakeCircuits) Snapshot() []breaker.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]breaker.Snapshot(nil), f.snaps...)
}

func (f *fakeCircuits) set(s []breaker.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snaps = s
}

// fakeQueue is a LogQueue with settable counts.
type fakeQueue struct {
	mu               sync.Mutex
	depth            int
	dropped, written uint64
}

func (f *fakeQueue) Depth() int      { f.mu.Lock(); defer f.mu.Unlock(); return f.depth }
func (f *fakeQueue) Dropped() uint64 { f.mu.Lock(); defer f.mu.Unlock(); return f.dropped }
func (f *fakeQueue) Written() uint64 { f.mu.Lock(); defer f.mu.Unlock(); return f.written }
func (f *fakeQueue) set(d int, dr, w uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.depth, f.dropped, f.written = d, dr, w
}

const circuitHeader = `
# HELP tollgate_circuit_consecutive_failures Current run of consecutive failures per channel and upstream model.
# TYPE tollgate_circuit_consecutive_failures gauge
`

const stateHeader = `
# HELP tollgate_circuit_state Circuit breaker state per channel and upstream model: 1 for the current state, 0 for the others.
# TYPE tollgate_circuit_state gauge
`

func TestCircuitCollector(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		snaps  []breaker.Snapshot
		series int
		want   string // empty when no series are expected
	}{
		{name: "no circuits", series: 0},
		{
			name:   "one circuit per state",
			snaps:  []breaker.Snapshot{{Channel: "a/gpt-4o", State: breaker.Closed}, {Channel: "b/gpt-4o", State: breaker.Open, ConsecutiveFailures: 5}, {Channel: "b/mini", State: breaker.HalfOpen, ConsecutiveFailures: 6}},
			series: 12,
			want: circuitHeader + `tollgate_circuit_consecutive_failures{channel="a",upstream_model="gpt-4o"} 0
tollgate_circuit_consecutive_failures{channel="b",upstream_model="gpt-4o"} 5
tollgate_circuit_consecutive_failures{channel="b",upstream_model="mini"} 6
` + stateHeader + `tollgate_circuit_state{channel="a",state="closed",upstream_model="gpt-4o"} 1
tollgate_circuit_state{channel="a",state="half_open",upstream_model="gpt-4o"} 0
tollgate_circuit_state{channel="a",state="open",upstream_model="gpt-4o"} 0
tollgate_circuit_state{channel="b",state="closed",upstream_model="gpt-4o"} 0
tollgate_circuit_state{channel="b",state="half_open",upstream_model="gpt-4o"} 0
tollgate_circuit_state{channel="b",state="open",upstream_model="gpt-4o"} 1
tollgate_circuit_state{channel="b",state="closed",upstream_model="mini"} 0
tollgate_circuit_state{channel="b",state="half_open",upstream_model="mini"} 1
tollgate_circuit_state{channel="b",state="open",upstream_model="mini"} 0
`,
		},
		{
			name:   "upstream model keeps its slashes and an unknown state sets none",
			snaps:  []breaker.Snapshot{{Channel: "vllm/meta-llama/Llama-3", State: breaker.State(9), ConsecutiveFailures: 1}},
			series: 4,
			want: circuitHeader + `tollgate_circuit_consecutive_failures{channel="vllm",upstream_model="meta-llama/Llama-3"} 1
` + stateHeader + `tollgate_circuit_state{channel="vllm",state="closed",upstream_model="meta-llama/Llama-3"} 0
tollgate_circuit_state{channel="vllm",state="half_open",upstream_model="meta-llama/Llama-3"} 0
tollgate_circuit_state{channel="vllm",state="open",upstream_model="meta-llama/Llama-3"} 0
`,
		},
		{
			name:   "a key without a model and a name that is not UTF-8",
			snaps:  []breaker.Snapshot{{Channel: "solo"}, {Channel: "x\xff/m"}},
			series: 8,
			want: circuitHeader + `tollgate_circuit_consecutive_failures{channel="other",upstream_model="m"} 0
tollgate_circuit_consecutive_failures{channel="solo",upstream_model="none"} 0
` + stateHeader + `tollgate_circuit_state{channel="other",state="closed",upstream_model="m"} 1
tollgate_circuit_state{channel="other",state="half_open",upstream_model="m"} 0
tollgate_circuit_state{channel="other",state="open",upstream_model="m"} 0
tollgate_circuit_state{channel="solo",state="closed",upstream_model="none"} 1
tollgate_circuit_state{channel="solo",state="half_open",upstream_model="none"} 0
tollgate_circuit_state{channel="solo",state="open",upstream_model="none"} 0
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCircuitCollector(&fakeCircuits{snaps: tc.snaps})
			if got := testutil.CollectAndCount(c); got != tc.series {
				t.Errorf("%d series, want %d", got, tc.series)
			}
			if tc.want == "" {
				return
			}
			if err := testutil.CollectAndCompare(c, strings.NewReader(tc.want)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestCircuitCollectorReadsAtScrape(t *testing.T) {
	t.Parallel()
	src := &fakeCircuits{}
	reg := prometheus.NewRegistry()
	New(reg, Options{Circuits: src})
	steps := []struct {
		state breaker.State
		open  float64
	}{{breaker.Closed, 0}, {breaker.Open, 1}, {breaker.Closed, 0}}
	for i, s := range steps {
		src.set([]breaker.Snapshot{{Channel: "a/m", State: s.state}})
		want := stateHeader + `tollgate_circuit_state{channel="a",state="closed",upstream_model="m"} ` + one(s.state == breaker.Closed) + `
tollgate_circuit_state{channel="a",state="half_open",upstream_model="m"} 0
tollgate_circuit_state{channel="a",state="open",upstream_model="m"} ` + one(s.open == 1) + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tollgate_circuit_state"); err != nil {
			t.Errorf("step %d: %v", i, err)
		}
	}
}

func one(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func TestLogQueueCollectors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		depth            int
		dropped, written uint64
	}{
		{"empty", 0, 0, 0},
		{"busy", 17, 2, 40000},
		{"later", 3, 5, 90001},
	}
	q := &fakeQueue{}
	cs := logQueueCollectors(q)
	for _, tc := range cases { // in order: the same collectors re-read q
		q.set(tc.depth, tc.dropped, tc.written)
		want := map[string]float64{
			"tollgate_request_log_queue_depth":   float64(tc.depth),
			"tollgate_request_log_dropped_total": float64(tc.dropped),
			"tollgate_request_log_written_total": float64(tc.written),
		}
		for _, c := range cs {
			name := collectorName(t, c)
			if got := testutil.ToFloat64(c); got != want[name] {
				t.Errorf("%s: %s = %v, want %v", tc.name, name, got, want[name])
			}
		}
	}
	q.set(4, 1, 9)
	reg := prometheus.NewRegistry()
	New(reg, Options{LogQueue: q})
	want := `
# HELP tollgate_request_log_queue_depth Request-log rows waiting to be written.
# TYPE tollgate_request_log_queue_depth gauge
tollgate_request_log_queue_depth 4
# HELP tollgate_request_log_dropped_total Request-log rows dropped: refused by a full queue or abandoned after failed writes.
# TYPE tollgate_request_log_dropped_total counter
tollgate_request_log_dropped_total 1
# HELP tollgate_request_log_written_total Request-log rows written.
# TYPE tollgate_request_log_written_total counter
tollgate_request_log_written_total 9
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tollgate_request_log_queue_depth", "tollgate_request_log_dropped_total", "tollgate_request_log_written_total"); err != nil {
		t.Error(err)
	}
}

// collectorName returns the fully-qualified name of a single-metric
// collector.
func collectorName(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 1)
	c.Describe(ch)
	s := (<-ch).String()
	_, after, _ := strings.Cut(s, `fqName: "`)
	name, _, _ := strings.Cut(after, `"`)
	return name
}
