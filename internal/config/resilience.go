package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Failure classes name why an upstream attempt failed. Retries and
// fallbacks are configured with them.
const (
	ClassRateLimit     = "rate_limit"              // 429
	ClassTimeout       = "timeout"                 // a phase timed out, or 408/504
	ClassServerError   = "server_error"            // 5xx, connection refused or reset, broken or malformed answers
	ClassContextLength = "context_length_exceeded" // the prompt is too long for the model
	ClassContentFilter = "content_filter"          // the upstream's content filter rejected the request
	ClassUpstreamAuth  = "upstream_auth"           // the upstream rejected tollgate's credentials
	ClassClientError   = "client_error"            // any other 4xx: deterministic, never retried
)

// RetryClasses returns the classes a retry may be configured for.
func RetryClasses() []string {
	return []string{ClassRateLimit, ClassTimeout, ClassServerError}
}

// FallbackClasses returns the classes a fallback may be triggered by.
func FallbackClasses() []string {
	return []string{ClassRateLimit, ClassTimeout, ClassServerError, ClassContextLength, ClassContentFilter, ClassUpstreamAuth}
}

// Retry says how often and when an upstream request is tried again. Zero
// fields inherit from the level above (model, then endpoint, then
// upstream.retry).
type Retry struct {
	// MaxAttempts caps upstream attempts per client request, across
	// channels and fallback models together. 1 means no retry. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffInitial is the cap of the first backoff; each retry doubles it
	// (full jitter: the wait is uniform between 0 and the cap). Default 250ms.
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	// BackoffMax caps the backoff. Default 5s.
	BackoffMax time.Duration `yaml:"backoff_max"`
	// On lists the failure classes that are retried: rate_limit, timeout,
	// server_error. Default all three. Deterministic failures (other 4xx)
	// are never retried.
	On []string `yaml:"on"`
}

// merged returns r with zero fields taken from parent.
func (r Retry) merged(parent Retry) Retry {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = parent.MaxAttempts
	}
	if r.BackoffInitial == 0 {
		r.BackoffInitial = parent.BackoffInitial
	}
	if r.BackoffMax == 0 {
		r.BackoffMax = parent.BackoffMax
	}
	if r.On == nil {
		r.On = parent.On
	}
	return r
}

// RetryBudget bounds retries into each channel to a share of its traffic,
// so a failing upstream is not hammered by a retry storm.
type RetryBudget struct {
	// Ratio is the most retries per first attempt over Window. Default 0.2.
	Ratio float64 `yaml:"ratio"`
	// Window is the sliding window. Default 10s.
	Window time.Duration `yaml:"window"`
	// MinPerSecond allows this many retries per second even at low traffic.
	// Default 1.
	MinPerSecond float64 `yaml:"min_per_second"`
}

// Circuit configures the per-channel circuit breaker.
type Circuit struct {
	// ConsecutiveFailures opens the circuit after this many failures in a
	// row. Default 5; 0 disables this trigger.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// FailureRatio opens the circuit when this share of the outcomes in
	// Window failed (with at least MinRequests outcomes). Default 0.5.
	FailureRatio float64 `yaml:"failure_ratio"`
	// MinRequests is the least outcomes in Window for FailureRatio. Default 10.
	MinRequests int `yaml:"min_requests"`
	// Window is the sliding window for FailureRatio. Default 30s.
	Window time.Duration `yaml:"window"`
	// Cooldown is how long an open circuit waits before one probe request.
	// A 429 with Retry-After cools the channel for that long instead.
	// Default 5s.
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxCooldown caps the cooldown, which doubles after each failed probe.
	// Default 1m.
	MaxCooldown time.Duration `yaml:"max_cooldown"`
}

// Continuation configures how a stream that breaks after content was sent
// is continued instead of failed.
type Continuation struct {
	// Enabled turns continuation on. Default true.
	Enabled bool `yaml:"enabled"`
	// MaxBufferBytes is how much of a stream tollgate keeps to be able to
	// continue it; longer streams are not continued. Default 1MiB.
	MaxBufferBytes ByteSize `yaml:"max_buffer_bytes"`
}

// Idempotency configures Idempotency-Key handling.
type Idempotency struct {
	// Enabled turns Idempotency-Key handling on. Default true.
	Enabled bool `yaml:"enabled"`
	// Window is how long a finished request's answer is kept for replay.
	// Default 24h.
	Window time.Duration `yaml:"window"`
	// MaxEntries bounds the keys remembered. Default 100000.
	MaxEntries int `yaml:"max_entries"`
	// MaxResultBytes bounds a stored answer; a larger one is remembered as
	// done but cannot be replayed. Default 4MiB.
	MaxResultBytes ByteSize `yaml:"max_result_bytes"`
}

// Fallback names a model to try when the requested one fails.
type Fallback struct {
	// Model is the fallback model's name. Required.
	Model string `yaml:"model"`
	// On lists the failure classes that trigger this fallback. Default
	// rate_limit, timeout and server_error.
	On []string `yaml:"on"`
}

// Endpoint names used under upstream.endpoint_retry.
var endpointNames = []string{"chat", "completions", "embeddings"}

// RetryFor returns the effective retry policy for a model and endpoint.
func (c *Config) RetryFor(m Model, endpoint string) Retry {
	r := c.Upstream.Retry
	if er, ok := c.Upstream.EndpointRetry[endpoint]; ok {
		r = er.merged(r)
	}
	return m.Retry.merged(r)
}

// TimeoutsFor returns the effective timeouts for a model on a channel: the
// model's values, else the channel's, else the upstream defaults.
func (c *Config) TimeoutsFor(m Model, ch Channel) Timeouts {
	return m.Timeouts.or(c.ChannelTimeouts(ch))
}

// AcceptsPrefill reports whether a channel continues an assistant prefill:
// the channel's prefill setting, else true for the simulator only.
func (ch Channel) AcceptsPrefill() bool {
	if ch.Prefill != nil {
		return *ch.Prefill
	}
	return ch.Provider == ProviderSimulator
}

func (r Retry) validate(v *validator, field string) {
	if r.MaxAttempts < 0 || r.MaxAttempts > 10 {
		v.addf(field+".max_attempts", "want 1 to 10 attempts, got %d", r.MaxAttempts)
	}
	if r.BackoffInitial < 0 || r.BackoffMax < 0 {
		v.addf(field, "backoff durations must not be negative")
	}
	for i, c := range r.On {
		if !slices.Contains(RetryClasses(), c) {
			v.addf(fmt.Sprintf("%s.on[%d]", field, i), "unknown retry class %q (one of %s)", c, strings.Join(RetryClasses(), ", "))
		}
	}
}

func (c *Config) validateResilience(v *validator) {
	u := c.Upstream
	u.Retry.validate(v, "upstream.retry")
	if u.Retry.MaxAttempts < 1 {
		v.addf("upstream.retry.max_attempts", "must be at least 1")
	}
	for name, r := range u.EndpointRetry {
		if !slices.Contains(endpointNames, name) {
			v.addf("upstream.endpoint_retry."+name, "unknown endpoint (one of %s)", strings.Join(endpointNames, ", "))
		}
		r.validate(v, "upstream.endpoint_retry."+name)
	}
	if u.RetryBudget.Ratio < 0 || u.RetryBudget.MinPerSecond < 0 {
		v.addf("upstream.retry_budget", "ratio and min_per_second must not be negative")
	}
	v.positive("upstream.retry_budget.window", u.RetryBudget.Window)
	ci := u.Circuit
	if ci.ConsecutiveFailures < 0 || ci.MinRequests < 0 || ci.FailureRatio < 0 || ci.FailureRatio > 1 {
		v.addf("upstream.circuit", "consecutive_failures and min_requests must not be negative; failure_ratio is a share between 0 and 1")
	}
	v.positive("upstream.circuit.window", ci.Window)
	v.positive("upstream.circuit.cooldown", ci.Cooldown)
	if ci.MaxCooldown < ci.Cooldown {
		v.addf("upstream.circuit.max_cooldown", "must be at least the cooldown (%v)", ci.Cooldown)
	}
	v.positive("upstream.keepalive_interval", u.KeepAliveInterval)
	if c.Idempotency.Enabled {
		v.positive("idempotency.window", c.Idempotency.Window)
		if c.Idempotency.MaxEntries <= 0 || c.Idempotency.MaxResultBytes <= 0 {
			v.addf("idempotency", "max_entries and max_result_bytes must be positive")
		}
	}
}

func (c *Config) validateModelResilience(v *validator, f string, m Model, models map[string]bool) {
	m.Retry.validate(v, f+".retry")
	m.Timeouts.validate(v, f+".timeouts", false)
	for i, fb := range m.Fallbacks {
		ff := fmt.Sprintf("%s.fallbacks[%d]", f, i)
		switch {
		case fb.Model == "":
			v.addf(ff+".model", "required")
		case fb.Model == m.Name:
			v.addf(ff+".model", "a model cannot fall back to itself")
		case !models[fb.Model]:
			v.addf(ff+".model", "no model named %q is configured", fb.Model)
		}
		for j, cl := range fb.On {
			if !slices.Contains(FallbackClasses(), cl) {
				v.addf(fmt.Sprintf("%s.on[%d]", ff, j), "unknown failure class %q (one of %s)", cl, strings.Join(FallbackClasses(), ", "))
			}
		}
	}
}
