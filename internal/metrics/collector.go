package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/internal/breaker"
)

// CircuitSource reports the circuit breaker's state. It is called at
// scrape time, so it must be safe for concurrent use. breaker.Set
// satisfies it.
type CircuitSource interface {
	// Snapshot returns one entry per circuit, keyed
	// "channel/upstream_model".
	Snapshot() []breaker.Snapshot
}

var _ CircuitSource = (*breaker.Set)(nil)

// circuitStates are the states exported per circuit, one series each.
var circuitStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}

// circuitCollector exports the circuits of a CircuitSource as read at each
// scrape: a state gauge that is 1 for the current state and 0 for the
// others, and the current run of consecutive failures.
type circuitCollector struct {
	src      CircuitSource
	state    *prometheus.Desc
	failures *prometheus.Desc
}

func newCircuitCollector(src CircuitSource) *circuitCollector {
	return &circuitCollector{
		src: src,
		state: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "circuit_state"),
			"Circuit breaker state per channel and upstream model: 1 for the current state, 0 for the others.",
			[]string{"channel", "upstream_model", "state"}, nil),
		failures: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "circuit_consecutive_failures"),
			"Current run of consecutive failures per channel and upstream model.",
			[]string{"channel", "upstream_model"}, nil),
	}
}

// Describe sends the two descriptors.
func (c *circuitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.failures
}

// Collect reads the source and sends its series. A circuit whose names
// are not valid label values is skipped rather than failing the scrape.
func (c *circuitCollector) Collect(ch chan<- prometheus.Metric) {
	for _, snap := range c.src.Snapshot() {
		channel, model, _ := strings.Cut(snap.Channel, "/")
		channel, model = nameLabel(channel, labelNone), nameLabel(model, labelNone)
		for _, st := range circuitStates {
			v := 0.0
			if snap.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, channel, model, st.String())
		}
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(snap.ConsecutiveFailures), channel, model)
	}
}

var _ prometheus.Collector = (*circuitCollector)(nil)

// logQueueCollectors returns the request-log queue collectors, read from q
// at each scrape.
func logQueueCollectors(q LogQueue) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "request_log_queue_depth",
			Help: "Request-log rows waiting to be written.",
		}, func() float64 { return float64(q.Depth()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "request_log_dropped_total",
			Help: "Request-log rows dropped: refused by a full queue or abandoned after failed writes.",
		}, func() float64 { return float64(q.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "request_log_written_total",
			Help: "Request-log rows written.",
		}, func() float64 { return float64(q.Written()) }),
	}
}
