// Package server is tollgate's inbound HTTP API: the OpenAI-compatible
// routes, the middleware around them (request ids, panic recovery,
// authentication, the request log) and the one place where errors become
// OpenAI-shaped HTTP answers.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/idempotency"
	"github.com/tollgate/tollgate/internal/metrics"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/store"
)

// KeyLookup authenticates API keys; auth.Cache satisfies it.
type KeyLookup interface {
	Lookup(secret string) (auth.Principal, error)
}

// RequestLogger receives one row per client request; reqlog.Writer
// satisfies it. Log must not block.
type RequestLogger interface {
	Log(row store.RequestLog) bool
}

// Options configure a Server. Keys and Routes are required.
type Options struct {
	// Keys authenticates callers.
	Keys KeyLookup
	// Routes resolves model names to channels.
	Routes *router.Table
	// RequestLog receives a row per request. Nil disables the request log.
	RequestLog RequestLogger
	// Logger receives tollgate's own logs. Nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies. Zero means 16 MiB.
	MaxBodyBytes int64
	// LogBodyMaxBytes caps each body kept in the request log for keys
	// with LogBodies on (the request and the answer, each). Zero means
	// 64 KiB.
	LogBodyMaxBytes int
	// Executor plans the attempts of each request (retries, failover,
	// fallbacks) with the shared circuit breaker and retry budget. Nil
	// means a plain Executor without either.
	Executor *router.Executor
	// KeepAlive is how often a ": keep-alive" comment goes to a streaming
	// client while nothing else is sent. Zero disables keep-alives.
	KeepAlive time.Duration
	// Continuation configures continuing streams broken after content.
	Continuation Continuation
	// Circuits reports circuit breaker state for the admin API. Nil shows none.
	Circuits CircuitReporter
	// Budget reports retry budget use for the admin API. Nil shows none.
	Budget BudgetReporter
	// Idempotency stores answers for Idempotency-Key replay. Nil disables
	// the header's handling.
	Idempotency idempotency.Store
	// IdempotencyMaxBytes bounds a stored answer. Zero means 4 MiB.
	IdempotencyMaxBytes int
	// Governor enforces rate limits, quotas, budgets and balances. Nil
	// admits everything.
	Governor Governor
	// Metrics records request metrics. Nil records none.
	Metrics *metrics.Metrics
	// Tracer, if set, records one span per request and one child span
	// per upstream attempt. Nil turns tracing off at no cost.
	Tracer trace.Tracer
	// MetricsHandler serves GET /metrics. Nil leaves the route unknown.
	MetricsHandler http.Handler
	// Ready reports whether the server can take traffic (for /readyz).
	// Nil means always ready.
	Ready func() error
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Admin backs the governance admin API (/admin/keys, groups, prices,
	// credits, owners; see admin_keys.go). Nil leaves those routes unknown.
	Admin AdminStore
	// OnKeyChange, if set, receives every key the admin API creates,
	// updates, rotates or revokes, so the key cache can apply it at once.
	// It must not block.
	OnKeyChange func(store.Key)
}

// Continuation configures stream continuation.
type Continuation struct {
	// Enabled turns continuation on.
	Enabled bool
	// MaxBufferBytes is how much of a stream is kept to continue it.
	MaxBufferBytes int
}

// Server serves the OpenAI-compatible API. It is safe for concurrent use.
type Server struct {
	opts    Options
	exec    *router.Executor
	log     *slog.Logger
	handler http.Handler
	started time.Time
}

// New builds a Server from opts.
func New(opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Ready == nil {
		opts.Ready = func() error { return nil }
	}
	s := &Server{opts: opts, log: opts.Logger, started: opts.Now(), exec: opts.Executor}
	if s.exec == nil {
		s.exec = &router.Executor{Now: opts.Now}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/v1", ""} {
		mux.Handle(prefix+"/chat/completions", s.api(http.MethodPost, s.relay(endpointChat)))
		mux.Handle(prefix+"/completions", s.api(http.MethodPost, s.relay(endpointCompletions)))
		mux.Handle(prefix+"/embeddings", s.api(http.MethodPost, s.relay(endpointEmbeddings)))
		mux.Handle(prefix+"/models", s.api(http.MethodGet, http.HandlerFunc(s.listModels)))
		mux.Handle(prefix+"/models/{id...}", s.api(http.MethodGet, http.HandlerFunc(s.getModel)))
	}
	mux.Handle("/v1/messages", s.speaking(dialectAnthropic, s.api(http.MethodPost, http.HandlerFunc(s.messages))))
	mux.Handle("/v1/responses", s.speaking(dialectResponses, s.api(http.MethodPost, http.HandlerFunc(s.responses))))
	mux.Handle("/admin/channels", s.logged(allow(http.MethodGet, s.authenticated(s.adminOnly(http.HandlerFunc(s.adminChannels))))))
	if s.opts.Admin != nil {
		s.adminRoutes(mux) // governance admin API, admin_keys.go
	}
	if s.opts.MetricsHandler != nil {
		mux.Handle("/metrics", s.plain(http.MethodGet, s.opts.MetricsHandler))
	}
	mux.Handle("/healthz", s.plain(http.MethodGet, http.HandlerFunc(s.healthz)))
	mux.Handle("/readyz", s.plain(http.MethodGet, http.HandlerFunc(s.readyz)))
	mux.Handle("/", s.logged(http.HandlerFunc(s.notFound)))
	return s.withRequestID(s.recoverPanics(mux))
}

// api wraps an API handler: method check, request log, authentication.
func (s *Server) api(method string, h http.Handler) http.Handler {
	return s.logged(allow(method, s.authenticated(h)))
}

// plain wraps an unauthenticated, unlogged handler such as /healthz.
func (s *Server) plain(method string, h http.Handler) http.Handler {
	return allow(method, h)
}
