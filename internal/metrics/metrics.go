// Package metrics holds tollgate's Prometheus collectors: a Metrics value
// built by New and registered on an injected registry, with one method
// per event the gateway reports (a request finished, a request started or
// ended, a gateway-side limit refused a request), plus collectors that read
// the circuit breaker and the request-log queue at scrape time.
//
// Label values are kept to bounded sets. Callers pass configured model and
// channel names, never ids, paths or client-supplied strings; free-form
// labels (error type, attempt class, retry reason) are additionally
// sanitised here, and endpoint, scope and phase labels take only their
// listed values.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "tollgate"

// Bucket bounds, in seconds.
var (
	// durationBuckets spans a cached embedding (5ms) to a long generation
	// (5 minutes).
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}
	// overheadBuckets spans the gateway's own share of a request, from
	// 50µs to 100ms.
	overheadBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1}
)

// Options are the optional sources New reads at scrape time. The zero
// value reads none and registers no runtime collectors.
type Options struct {
	// Circuits, if set, is read at each scrape for the circuit state and
	// consecutive-failure gauges. A breaker.Set satisfies it.
	Circuits CircuitSource
	// LogQueue, if set, is read at each scrape for the request-log queue
	// depth and its dropped and written counts. A reqlog.Writer satisfies
	// it.
	LogQueue LogQueue
	// Runtime registers the Go runtime and process collectors.
	Runtime bool
}

// LogQueue is the request-log writer as the metrics see it. Its methods
// are called at scrape time, concurrently with the writer's own work, so
// they must be safe for concurrent use.
type LogQueue interface {
	// Depth is the number of rows waiting to be written.
	Depth() int
	// Dropped is the number of rows dropped since start.
	Dropped() uint64
	// Written is the number of rows written since start.
	Written() uint64
}

// Request is one finished client request. The caller bounds every string:
// Model and Channel are configured names (or "unknown" and ""), never
// values taken from the client.
type Request struct {
	// Endpoint is one of the Endpoint constants; other values count as
	// EndpointOther.
	Endpoint string
	// Model is the canonical configured model that answered, or that was
	// requested; "unknown" (or empty) when it could not be resolved.
	Model string
	// Channel is the configured channel that answered; empty if none did.
	Channel string
	// Stream reports whether the client asked for a stream.
	Stream bool
	// Status is the HTTP status sent to the client.
	Status int
	// ErrorType is the OpenAI error type sent to the client; empty on
	// success. It is sanitised like every free-form label.
	ErrorType string
	// Duration is the whole request, as the client saw it.
	Duration time.Duration
	// TTFB is the time to the first byte sent to the client (for streams,
	// the first content); zero if none was sent.
	TTFB time.Duration
	// TTFT is, for streams, the time to the first content event sent to
	// the client; zero if none was sent.
	TTFT time.Duration
	// Overhead is the time spent in tollgate itself: Duration minus the
	// time spent waiting on upstreams. Zero if unknown.
	Overhead time.Duration
	// Attempts is the number of upstream attempts. It is informational:
	// the attempts passed to RequestFinished are what is counted.
	Attempts int
	// Fallback reports that a fallback model answered.
	Fallback bool
	// Continued reports that a cut stream was continued on another
	// attempt.
	Continued bool
	// Truncated reports that the stream to the client ended without its
	// end marker.
	Truncated bool
	// PromptTokens and CompletionTokens are the tokens charged; values
	// below 1 are not counted.
	PromptTokens, CompletionTokens int64
	// CostMicros is the cost in millionths of the currency unit; values
	// below 1 are not counted.
	CostMicros int64
}

// Attempt is one upstream attempt of a request.
type Attempt struct {
	// Channel is the configured channel tried.
	Channel string
	// Class is empty on success, else why the attempt failed: rate_limit,
	// timeout, server_error, context_length_exceeded, content_filter,
	// upstream_auth, client_error or canceled. It is sanitised like every
	// free-form label.
	Class string
	// Phase is, for a timeout, the phase that ran out: one of the Phase
	// constants.
	Phase string
	// Retry reports that the attempt repeated a channel already tried for
	// the request. It is informational: failovers are told from retries
	// by Channel and Fallback.
	Retry bool
	// Fallback reports that the attempt served a fallback model.
	Fallback bool
}

// Metrics is tollgate's set of collectors. Build it with New. Its methods
// are safe for concurrent use, and a nil *Metrics discards everything.
type Metrics struct {
	// The vectors; the closed label sets also have their children in
	// the arrays below, which the hot path indexes.
	requests       *prometheus.CounterVec
	durationVec    *prometheus.HistogramVec
	ttfbVec        *prometheus.HistogramVec
	ttftVec        *prometheus.HistogramVec
	timeoutsVec    *prometheus.CounterVec
	rateLimitedVec *prometheus.CounterVec
	inFlightVec    *prometheus.GaugeVec

	duration      [len(endpointNames)][len(streamNames)]prometheus.Observer
	ttfb          [len(endpointNames)][len(streamNames)]prometheus.Observer
	ttft          [len(endpointNames)]prometheus.Observer
	overhead      prometheus.Histogram
	tokens        *prometheus.CounterVec
	cost          *prometheus.CounterVec
	attempts      *prometheus.CounterVec
	retries       *prometheus.CounterVec
	failovers     *prometheus.CounterVec
	fallbacks     prometheus.Counter
	continuations prometheus.Counter
	truncated     prometheus.Counter
	timeouts      [len(phaseNames)]prometheus.Counter
	rateLimited   [len(scopeNames)]prometheus.Counter
	inFlight      [len(streamNames)]prometheus.Gauge

	requestChildren *childCache[requestKey, prometheus.Counter]
	modelChildren   *childCache[string, modelChildren]
	attemptChildren *childCache[attemptKey, prometheus.Counter]
	reasonChildren  *childCache[string, reasonChildren]
}

// requestKey is the label combination of tollgate_requests_total, after
// bounding.
type requestKey struct {
	endpoint       int
	model, channel string
	status         int
	errorType      string
}

// attemptKey is the label combination of tollgate_upstream_attempts_total,
// after bounding.
type attemptKey struct {
	channel, result string
}

// modelChildren are the per-model counters, made together: a model's
// token and cost series appear (at zero) when the first is counted.
type modelChildren struct {
	prompt, completion, cost prometheus.Counter
}

// reasonChildren are the per-reason counters, made together like
// modelChildren.
type reasonChildren struct {
	retry, failover prometheus.Counter
}

// New builds the collectors and registers them on reg; a nil reg
// registers nothing, for tests that do not scrape. It panics if a
// collector is already registered on reg, as registering twice is a
// wiring mistake.
func New(reg prometheus.Registerer, opts Options) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Client requests finished, by endpoint, model, channel, HTTP status and error type.",
		}, []string{"endpoint", "model", "channel", "status", "error_type"}),
		overhead: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "overhead_seconds",
			Help:    "Time spent in tollgate itself per request, excluding time waiting on upstreams.",
			Buckets: overheadBuckets,
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_total",
			Help: "Tokens charged, by model and kind (prompt or completion).",
		}, []string{"model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cost_micros_total",
			Help: "Cost charged in millionths of the currency unit, by model.",
		}, []string{"model"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upstream_attempts_total",
			Help: "Upstream attempts, by channel and result (ok or the failure class).",
		}, []string{"channel", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "retries_total",
			Help: "Upstream attempts after the first of a request, by the failure class of the attempt before.",
		}, []string{"reason"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "failovers_total",
			Help: "Upstream attempts after the first that moved to another channel or a fallback model, by the failure class of the attempt before.",
		}, []string{"reason"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "fallbacks_total",
			Help: "Requests answered by a fallback model.",
		}),
		continuations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "continuations_total",
			Help: "Requests whose cut stream was continued on another attempt.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "truncated_streams_total",
			Help: "Streams to clients that ended without their end marker.",
		}),
	}
	m.durationVec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "request_duration_seconds",
		Help:    "Client request duration, by endpoint and whether it streamed.",
		Buckets: durationBuckets,
	}, []string{"endpoint", "stream"})
	m.ttfbVec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "time_to_first_byte_seconds",
		Help:    "Time to the first byte sent to the client (for streams, the first content), by endpoint and whether it streamed.",
		Buckets: durationBuckets,
	}, []string{"endpoint", "stream"})
	m.ttftVec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "time_to_first_token_seconds",
		Help:    "Streams: time to the first content event sent to the client, by endpoint.",
		Buckets: durationBuckets,
	}, []string{"endpoint"})
	m.timeoutsVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "timeouts_total",
		Help: "Upstream attempts that timed out, by the phase that ran out.",
	}, []string{"phase"})
	m.rateLimitedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limited_total",
		Help: "Requests refused by a gateway-side limit, by the limit's scope.",
	}, []string{"scope"})
	m.inFlightVec = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "in_flight_requests",
		Help: "Client requests being served, by whether they stream.",
	}, []string{"stream"})

	// The closed label sets are made up front: the hot path indexes an
	// array, and every series exists from the first scrape.
	for e, en := range endpointNames {
		m.ttft[e] = m.ttftVec.WithLabelValues(en)
		for s, sn := range streamNames {
			m.duration[e][s] = m.durationVec.WithLabelValues(en, sn)
			m.ttfb[e][s] = m.ttfbVec.WithLabelValues(en, sn)
		}
	}
	for p, pn := range phaseNames {
		m.timeouts[p] = m.timeoutsVec.WithLabelValues(pn)
	}
	for s, sn := range scopeNames {
		m.rateLimited[s] = m.rateLimitedVec.WithLabelValues(sn)
	}
	for s, sn := range streamNames {
		m.inFlight[s] = m.inFlightVec.WithLabelValues(sn)
	}

	m.requestChildren = newChildCache(func(k requestKey) prometheus.Counter {
		return m.requests.WithLabelValues(endpointNames[k.endpoint], k.model, k.channel, statusLabel(k.status), k.errorType)
	})
	m.modelChildren = newChildCache(func(model string) modelChildren {
		return modelChildren{
			prompt:     m.tokens.WithLabelValues(model, "prompt"),
			completion: m.tokens.WithLabelValues(model, "completion"),
			cost:       m.cost.WithLabelValues(model),
		}
	})
	m.attemptChildren = newChildCache(func(k attemptKey) prometheus.Counter {
		return m.attempts.WithLabelValues(k.channel, k.result)
	})
	m.reasonChildren = newChildCache(func(reason string) reasonChildren {
		return reasonChildren{retry: m.retries.WithLabelValues(reason), failover: m.failovers.WithLabelValues(reason)}
	})

	if reg == nil {
		return m
	}
	reg.MustRegister(m.requests, m.durationVec, m.ttfbVec, m.ttftVec, m.overhead, m.tokens, m.cost, m.attempts, m.retries,
		m.failovers, m.fallbacks, m.continuations, m.truncated, m.timeoutsVec, m.rateLimitedVec, m.inFlightVec)
	if opts.Circuits != nil {
		reg.MustRegister(newCircuitCollector(opts.Circuits))
	}
	if opts.LogQueue != nil {
		reg.MustRegister(logQueueCollectors(opts.LogQueue)...)
	}
	if opts.Runtime {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// RequestFinished records one finished client request and its upstream
// attempts, in the order they were made.
func (m *Metrics) RequestFinished(r Request, attempts []Attempt) {
	if m == nil {
		return
	}
	e, s := endpointIndex(r.Endpoint), streamIndex(r.Stream)
	model := nameLabel(r.Model, labelUnknown)
	m.requestChildren.get(requestKey{
		endpoint: e, model: model, channel: nameLabel(r.Channel, labelNone),
		status: statusCode(r.Status), errorType: freeLabel(r.ErrorType),
	}).Inc()
	if r.Duration >= 0 {
		m.duration[e][s].Observe(r.Duration.Seconds())
	}
	if r.TTFB > 0 {
		m.ttfb[e][s].Observe(r.TTFB.Seconds())
	}
	if r.TTFT > 0 {
		m.ttft[e].Observe(r.TTFT.Seconds())
	}
	if r.Overhead > 0 {
		m.overhead.Observe(r.Overhead.Seconds())
	}
	if r.PromptTokens > 0 || r.CompletionTokens > 0 || r.CostMicros > 0 {
		mc := m.modelChildren.get(model)
		if r.PromptTokens > 0 {
			mc.prompt.Add(float64(r.PromptTokens))
		}
		if r.CompletionTokens > 0 {
			mc.completion.Add(float64(r.CompletionTokens))
		}
		if r.CostMicros > 0 {
			mc.cost.Add(float64(r.CostMicros))
		}
	}
	if r.Fallback {
		m.fallbacks.Inc()
	}
	if r.Continued {
		m.continuations.Inc()
	}
	if r.Truncated {
		m.truncated.Inc()
	}
	m.recordAttempts(attempts)
}

// recordAttempts counts each attempt by channel and result, timeouts by
// phase, and every attempt after the first as a retry, and also as a
// failover when it changed channel or served a fallback model.
func (m *Metrics) recordAttempts(attempts []Attempt) {
	for i := range attempts {
		a := &attempts[i]
		result := resultOK
		if a.Class != "" {
			result = freeLabel(a.Class)
		}
		m.attemptChildren.get(attemptKey{channel: nameLabel(a.Channel, labelNone), result: result}).Inc()
		if a.Class == classTimeout {
			m.timeouts[phaseIndex(a.Phase)].Inc()
		}
		if i == 0 {
			continue
		}
		prev := &attempts[i-1]
		rc := m.reasonChildren.get(freeLabel(prev.Class))
		rc.retry.Inc()
		if a.Fallback || a.Channel != prev.Channel {
			rc.failover.Inc()
		}
	}
}

// statusCode maps codes outside 100-599 to 0, which statusLabel formats
// as "other", so that they share one cache entry.
func statusCode(code int) int {
	if code < 100 || code > 599 {
		return 0
	}
	return code
}

// InFlight adds delta to the requests being served: +1 when a request
// starts and -1 when it ends, with the same stream.
func (m *Metrics) InFlight(stream bool, delta int) {
	if m == nil {
		return
	}
	m.inFlight[streamIndex(stream)].Add(float64(delta))
}

// RateLimited counts a request refused by a gateway-side limit. Scope is
// one of the Scope constants; other values count as "other".
func (m *Metrics) RateLimited(scope string) {
	if m == nil {
		return
	}
	m.rateLimited[scopeIndex(scope)].Inc()
}
