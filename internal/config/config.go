// Package config defines tollgate's configuration: the structs, their safe
// defaults, strict YAML loading with ${ENV_VAR} expansion, and validation
// that reports every problem at once.
//
// The package imports only the standard library and the YAML decoder; the
// command wires the values into the packages that use them.
package config

import (
	"time"

	"github.com/tollgate/tollgate/internal/redact"
)

// Config is the whole configuration of one tollgate process.
type Config struct {
	// Server configures the inbound HTTP listener.
	Server Server `yaml:"server"`
	// Database selects where keys and the request log are stored.
	Database Database `yaml:"database"`
	// Log configures tollgate's own structured logs.
	Log Log `yaml:"log"`
	// RequestLog configures the per-request log rows written to the database.
	RequestLog RequestLog `yaml:"request_log"`
	// Keys configures how API keys are served.
	Keys Keys `yaml:"keys"`
	// Upstream holds defaults shared by every channel.
	Upstream Upstream `yaml:"upstream"`
	// Channels are the upstream endpoints tollgate can send requests to.
	Channels []Channel `yaml:"channels"`
	// Models are the model names clients may request and how each routes
	// to channels.
	Models []Model `yaml:"models"`
	// Idempotency configures Idempotency-Key handling.
	Idempotency Idempotency `yaml:"idempotency"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Tracing configures OpenTelemetry traces over OTLP.
	Tracing Tracing `yaml:"tracing"`
	// Limits configures tollgate's own rate limits and quota days.
	Limits Limits `yaml:"limits"`
	// Prices are the prices per million tokens per model name. Prices set
	// through the CLI or admin API (stored in the database) win.
	Prices map[string]Price `yaml:"prices"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Enabled serves GET /metrics on the main listener. Default true.
	Enabled bool `yaml:"enabled"`
}

// Server configures the inbound HTTP listener.
type Server struct {
	// Addr is the host:port to listen on. Default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// MaxBodyBytes caps request bodies; larger ones get a 413. Default 16MiB.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long in-flight requests and streams may run
	// after SIGTERM before they are cut. Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Database selects where keys and the request log are stored.
type Database struct {
	// Driver is the store backend: "sqlite" (default) or "postgres".
	Driver string `yaml:"driver"`
	// URL is the PostgreSQL connection string (postgres driver), e.g.
	// postgres://tollgate:${PGPASSWORD}@db:5432/tollgate.
	URL redact.Secret `yaml:"url"`
	// Path is the SQLite file. Default "tollgate.db" in the working
	// directory; ":memory:" keeps everything in memory (lost on exit).
	Path string `yaml:"path"`
}

// Log configures tollgate's own structured logs (not the request log).
type Log struct {
	// Level is one of debug, info, warn, error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// RequestLog configures the request log rows, written in batches off the
// request path.
type RequestLog struct {
	// Enabled turns the request log on. Default true.
	Enabled bool `yaml:"enabled"`
	// QueueSize bounds the rows waiting to be written; beyond it rows are
	// dropped and counted. Default 4096.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is the most rows written in one transaction. Default 512.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest a row waits before being written.
	// Default 200ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Retention is how long rows are kept; older ones are deleted in
	// batches by the writer's goroutine, never on the request path. Zero
	// keeps rows forever. Charged rows with a cost are kept regardless,
	// since balances and budgets are summed from them. Default 720h (30
	// days).
	Retention time.Duration `yaml:"retention"`
	// MaxBodyBytes caps each body kept for keys with log_bodies on: the
	// request body and the answer are each cut at this size and marked
	// truncated. Keys without log_bodies never have bodies stored.
	// Default 64KiB.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
}

// Keys configures how API keys are served.
type Keys struct {
	// RefreshInterval is how often the in-memory key cache pulls changes
	// (new, revoked, expired keys) from the database. A revoked key stops
	// working within this interval. Default 250ms.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// Values of Upstream.PlainHTTPClient.
const (
	PlainHTTPTollgate = "tollgate"
	PlainHTTPStdlib   = "net/http"
)

// Upstream holds defaults for every channel; a channel may override them.
type Upstream struct {
	// Timeouts are the default per-phase timeouts.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxIdleConnsPerHost is the keep-alive pool size per upstream host.
	// Default 256.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// PlainHTTPClient is the client for channels reached over plain
	// http://: PlainHTTPTollgate (the default), tollgate's own HTTP/1.1
	// client that does each round trip on the request's goroutine, or
	// PlainHTTPStdlib, Go's net/http transport. https:// upstreams always
	// use net/http, with HTTP/2 where offered.
	PlainHTTPClient string `yaml:"plain_http_client"`
	// Retry is the default retry policy.
	Retry Retry `yaml:"retry"`
	// EndpointRetry overrides Retry per endpoint: chat, completions,
	// embeddings.
	EndpointRetry map[string]Retry `yaml:"endpoint_retry"`
	// RetryBudget bounds retries into each channel.
	RetryBudget RetryBudget `yaml:"retry_budget"`
	// Circuit configures the per-channel circuit breaker.
	Circuit Circuit `yaml:"circuit"`
	// KeepAliveInterval is how often a ": keep-alive" comment goes to a
	// streaming client while no event arrives, so proxies and load
	// balancers do not cut a slow but healthy stream. Default 15s.
	KeepAliveInterval time.Duration `yaml:"keepalive_interval"`
	// Continuation configures continuing streams that broke mid-answer.
	Continuation Continuation `yaml:"continuation"`
}

// Timeouts bound each phase of an upstream request. Zero means "use the
// default"; the error for a timeout names the phase that ran out.
type Timeouts struct {
	// Connect bounds TCP connect plus TLS handshake. Default 10s.
	Connect time.Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for the upstream's response headers
	// after the request was sent. Default 120s.
	ResponseHeader time.Duration `yaml:"response_header"`
	// FirstToken bounds, for streams, the wait from the response headers
	// to the first content event (role-only chunks do not count). Default
	// 120s.
	FirstToken time.Duration `yaml:"first_token"`
	// Idle bounds the gap between two stream events. Default 120s.
	Idle time.Duration `yaml:"idle"`
	// Total bounds the whole request, streams included, across every
	// attempt, backoff and fallback. Default 10m. Not settable per channel.
	Total time.Duration `yaml:"total"`
}

// Provider names.
const (
	ProviderOpenAI    = "openai"
	ProviderSimulator = "simulator"
	ProviderAnthropic = "anthropic"
	ProviderGemini    = "gemini"
)

// Dialects a simulator channel can speak.
const (
	DialectOpenAI    = "openai"
	DialectAnthropic = "anthropic"
	DialectGemini    = "gemini"
)

// API styles of an "openai" channel.
const (
	APIStyleOpenAI = "openai"
	APIStyleAzure  = "azure"
)

// Channel is one upstream endpoint: a provider plus its connection details.
type Channel struct {
	// Name identifies the channel in routes, logs and metrics. Required.
	Name string `yaml:"name"`
	// Provider is "openai" (any OpenAI-compatible API) or "simulator"
	// (built in, no network). Required.
	Provider string `yaml:"provider"`
	// BaseURL is the upstream's API root including the version path, e.g.
	// "https://api.openai.com/v1". Required for "openai".
	BaseURL string `yaml:"base_url"`
	// APIKey is sent upstream as "Authorization: Bearer". Use
	// ${ENV_VAR} to keep it out of the file.
	APIKey redact.Secret `yaml:"api_key"`
	// Headers are extra headers sent with every upstream request.
	Headers map[string]string `yaml:"headers"`
	// Timeouts override Upstream.Timeouts for this channel.
	Timeouts Timeouts `yaml:"timeouts"`
	// Prefill says whether the channel continues an assistant message
	// given as the last message (used to continue a broken stream).
	// Default: true for the simulator, false otherwise.
	Prefill *bool `yaml:"prefill"`
	// Simulator configures the built-in simulator ("simulator" only).
	Simulator *Simulator `yaml:"simulator"`
	// AnthropicVersion is sent as "anthropic-version" ("anthropic" only).
	// Default "2023-06-01".
	AnthropicVersion string `yaml:"anthropic_version"`
	// DefaultMaxTokens is the max_tokens sent when a client sets no output
	// limit; Anthropic requires one ("anthropic" and simulator channels
	// with dialect "anthropic"). Default 4096.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// APIStyle lays out URLs and credentials of an "openai" channel:
	// "openai" (default) or "azure" for Azure OpenAI, where base_url is
	// the resource root (https://RESOURCE.openai.azure.com), the route's
	// upstream model names the deployment, and api_key is sent as
	// "api-key".
	APIStyle string `yaml:"api_style"`
	// APIVersion is Azure OpenAI's api-version query parameter (api_style
	// "azure" only). Default "2024-10-21".
	APIVersion string `yaml:"api_version"`
	// Dialect is the API a simulator channel speaks: "openai" (default),
	// "anthropic" or "gemini" (driven through the anthropic or gemini
	// adapter, so the whole translation path runs offline). Simulator
	// channels only.
	Dialect string `yaml:"dialect"`
	// Responses declares that the upstream serves OpenAI's Responses API
	// (POST {base_url}/responses) itself: a /v1/responses request whose
	// model routes only to such channels is passed through unchanged
	// instead of being translated to chat completions. "openai" channels
	// (api_style "openai") and simulator channels of the openai dialect
	// only. Default false.
	Responses bool `yaml:"responses"`
}

// Model is a model name clients may request.
type Model struct {
	// Name is what clients send as "model". Required, unique.
	Name string `yaml:"name"`
	// Aliases are other names that route the same way.
	Aliases []string `yaml:"aliases"`
	// OwnedBy is shown in GET /v1/models. Default "tollgate".
	OwnedBy string `yaml:"owned_by"`
	// Routes lists the channels that serve this model: the lowest
	// priority first, weighted among equal priorities.
	Routes []Route `yaml:"routes"`
	// Fallbacks are other models tried, in order, when this one fails
	// with one of their failure classes.
	Fallbacks []Fallback `yaml:"fallbacks"`
	// Timeouts override the channel's timeouts for this model.
	Timeouts Timeouts `yaml:"timeouts"`
	// Retry overrides the retry policy for this model.
	Retry Retry `yaml:"retry"`
}

// Route sends a model to one channel.
type Route struct {
	// Channel names a configured channel. Required.
	Channel string `yaml:"channel"`
	// Model is the upstream's name for the model. Default: the model's Name.
	Model string `yaml:"model"`
	// Weight shares traffic between routes of equal priority. Default 1.
	Weight int `yaml:"weight"`
	// Priority orders routes; lower numbers are tried first. Default 0.
	Priority int `yaml:"priority"`
}

// Simulator configures the built-in simulated upstream of one channel.
type Simulator struct {
	// Default is the behaviour of any model not listed in Models.
	Default SimProfile `yaml:"default"`
	// Models gives behaviour per upstream model name.
	Models map[string]SimProfile `yaml:"models"`
}

// SimProfile is how the simulator answers for one model.
type SimProfile struct {
	// Latency is the wait before response headers.
	Latency time.Duration `yaml:"latency"`
	// FirstTokenDelay is, for streams, the wait after the headers and the
	// role chunk (both sent at once) before the first content chunk.
	FirstTokenDelay time.Duration `yaml:"first_token_delay"`
	// TokensPerSecond paces stream chunks; 0 means as fast as possible.
	TokensPerSecond float64 `yaml:"tokens_per_second"`
	// Length is the answer length in tokens. Default 24.
	Length int `yaml:"length"`
	// EmbeddingDims is the embedding vector size. Default 16.
	EmbeddingDims int `yaml:"embedding_dims"`
	// RejectPrefill answers a chat request ending with an assistant
	// message (a prefill) with 400 "prefill_unsupported" instead of
	// continuing it.
	RejectPrefill bool `yaml:"reject_prefill"`
	// Fault injects a failure; see the annotated example config.
	Fault SimFault `yaml:"fault"`
}

// SimFault injects one kind of failure into the simulator's answers.
type SimFault struct {
	// Kind is one of: status, reset, no_response, slow_first_token, stall,
	// cut, malformed_chunk, no_done, no_usage. Empty means healthy.
	Kind string `yaml:"kind"`
	// Status is the HTTP status for kind "status".
	Status int `yaml:"status"`
	// Code is the OpenAI error code for kind "status", e.g.
	// "context_length_exceeded".
	Code string `yaml:"code"`
	// Message overrides the error message for kind "status".
	Message string `yaml:"message"`
	// RetryAfter sets Retry-After for kind "status".
	RetryAfter time.Duration `yaml:"retry_after"`
	// After is how many tokens are sent before stall, cut or malformed_chunk.
	After int `yaml:"after"`
	// Delay is the wait for slow_first_token, or the stall length (0 = forever).
	Delay time.Duration `yaml:"delay"`
	// Probability applies the fault to that share of requests (0 = all).
	Probability float64 `yaml:"probability"`
	// Times applies the fault only to the first Times requests (0 = all).
	Times int `yaml:"times"`
	// Every, when > 1, makes only every Every-th request to the model
	// fail (the n-th, counting from 1, when n%Every == 0); 0 = all.
	Every int `yaml:"every"`
}

// SimFaultKinds returns the valid SimFault.Kind values.
func SimFaultKinds() []string {
	return []string{"status", "reset", "no_response", "slow_first_token", "stall", "cut", "malformed_chunk", "no_done", "no_usage"}
}
