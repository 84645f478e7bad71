package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// fillDefaults sets per-item defaults that depend on other fields.
func (c *Config) fillDefaults() {
	for i := range c.Models {
		m := &c.Models[i]
		if m.OwnedBy == "" {
			m.OwnedBy = "tollgate"
		}
		for j := range m.Routes {
			r := &m.Routes[j]
			if r.Model == "" {
				r.Model = m.Name
			}
			if r.Weight == 0 {
				r.Weight = 1
			}
		}
	}
}

// Validate checks the whole configuration and returns every problem found,
// each naming the setting it concerns. It returns nil when all is well.
func (c *Config) Validate() []error {
	var v validator
	c.validateServer(&v)
	c.validateTracing(&v)
	c.validateResilience(&v)
	c.validateGovernance(&v)
	c.validateChannels(&v)
	c.validateModels(&v)
	return v.problems
}

type validator struct{ problems []error }

func (v *validator) addf(field, format string, args ...any) {
	v.problems = append(v.problems, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (v *validator) positive(field string, d time.Duration) {
	if d <= 0 {
		v.addf(field, "must be a positive duration such as 10s, got %v", d)
	}
}

func (c *Config) validateServer(v *validator) {
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		v.addf("server.addr", "want host:port such as 127.0.0.1:8080, got %q", c.Server.Addr)
	}
	if c.Server.MaxBodyBytes <= 0 {
		v.addf("server.max_body_bytes", "must be positive")
	}
	v.positive("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	v.positive("server.idle_timeout", c.Server.IdleTimeout)
	v.positive("server.shutdown_timeout", c.Server.ShutdownTimeout)
	switch c.Database.Driver {
	case "sqlite":
		if c.Database.Path == "" {
			v.addf("database.path", "required for the sqlite driver")
		}
	case "postgres":
	default:
		v.addf("database.driver", "unknown driver %q (sqlite or postgres)", c.Database.Driver)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.addf("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		v.addf("log.format", "want text or json, got %q", c.Log.Format)
	}
	if c.RequestLog.QueueSize <= 0 {
		v.addf("request_log.queue_size", "must be positive")
	}
	if c.RequestLog.BatchSize <= 0 {
		v.addf("request_log.batch_size", "must be positive")
	}
	v.positive("request_log.flush_interval", c.RequestLog.FlushInterval)
	if c.RequestLog.MaxBodyBytes <= 0 {
		v.addf("request_log.max_body_bytes", "must be positive (bodies are stored only for keys with log_bodies on)")
	}
	if c.RequestLog.Retention < 0 {
		v.addf("request_log.retention", "must not be negative (0 keeps rows forever)")
	}
	v.positive("keys.refresh_interval", c.Keys.RefreshInterval)
	c.Upstream.Timeouts.validate(v, "upstream.timeouts", true)
	if c.Upstream.MaxIdleConnsPerHost <= 0 {
		v.addf("upstream.max_idle_conns_per_host", "must be positive")
	}
	if p := c.Upstream.PlainHTTPClient; p != PlainHTTPTollgate && p != PlainHTTPStdlib {
		v.addf("upstream.plain_http_client", "must be %q or %q, got %q", PlainHTTPTollgate, PlainHTTPStdlib, p)
	}
}

func (t Timeouts) validate(v *validator, field string, required bool) {
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"connect", t.Connect}, {"response_header", t.ResponseHeader}, {"first_token", t.FirstToken}, {"idle", t.Idle}, {"total", t.Total}} {
		if p.d < 0 || (required && p.d == 0) {
			v.addf(field+"."+p.name, "must be a positive duration, got %v", p.d)
		}
	}
}

func (c *Config) validateChannels(v *validator) {
	seen := map[string]bool{}
	for i, ch := range c.Channels {
		f := fmt.Sprintf("channels[%d]", i)
		switch {
		case ch.Name == "":
			v.addf(f+".name", "required")
		case seen[ch.Name]:
			v.addf(f+".name", "duplicate channel name %q", ch.Name)
		}
		seen[ch.Name] = true
		ch.Timeouts.validate(v, f+".timeouts", false)
		if ch.Timeouts.Total != 0 {
			v.addf(f+".timeouts.total", "the total deadline covers the whole request across channels; set upstream.timeouts.total instead")
		}
		switch ch.Provider {
		case ProviderOpenAI:
			validateBaseURL(v, f+".base_url", ch.BaseURL)
			if ch.Simulator != nil {
				v.addf(f+".simulator", "only valid for provider %q", ProviderSimulator)
			}
		case ProviderAnthropic:
			if ch.BaseURL != "" {
				validateBaseURL(v, f+".base_url", ch.BaseURL)
			} else if ch.APIKey.IsZero() {
				v.addf(f+".api_key", "required for provider %q (or give a base_url for a keyless proxy)", ProviderAnthropic)
			}
			if ch.Simulator != nil {
				v.addf(f+".simulator", "only valid for provider %q", ProviderSimulator)
			}
		case ProviderGemini:
			if ch.BaseURL != "" {
				validateBaseURL(v, f+".base_url", ch.BaseURL)
			} else if ch.APIKey.IsZero() {
				v.addf(f+".api_key", "required for provider %q (or give a base_url for a keyless proxy)", ProviderGemini)
			}
			if ch.Simulator != nil {
				v.addf(f+".simulator", "only valid for provider %q", ProviderSimulator)
			}
		case ProviderSimulator:
			if ch.Dialect != "" && ch.Dialect != DialectOpenAI && ch.Dialect != DialectAnthropic && ch.Dialect != DialectGemini {
				v.addf(f+".dialect", "unknown dialect %q (one of %s, %s, %s)", ch.Dialect, DialectOpenAI, DialectAnthropic, DialectGemini)
			}
			if ch.BaseURL != "" {
				v.addf(f+".base_url", "not used by provider %q: remove it", ProviderSimulator)
			}
			if ch.Simulator != nil {
				ch.Simulator.validate(v, f+".simulator")
			}
		case "":
			v.addf(f+".provider", "required (one of %s, %s, %s, %s)", ProviderOpenAI, ProviderAnthropic, ProviderGemini, ProviderSimulator)
		default:
			v.addf(f+".provider", "unknown provider %q (one of %s, %s, %s, %s)", ch.Provider, ProviderOpenAI, ProviderAnthropic, ProviderGemini, ProviderSimulator)
		}
		validateAPIStyle(v, f, ch)
		if ch.Responses {
			switch {
			case ch.Provider == ProviderOpenAI && ch.APIStyle == APIStyleAzure:
				v.addf(f+".responses", "not supported with api_style %q", APIStyleAzure)
			case ch.Provider == ProviderSimulator && ch.Dialect != "" && ch.Dialect != DialectOpenAI:
				v.addf(f+".responses", "only valid with the %q dialect", DialectOpenAI)
			case ch.Provider != ProviderOpenAI && ch.Provider != ProviderSimulator:
				v.addf(f+".responses", "only valid for provider %q", ProviderOpenAI)
			}
		}
		if ch.Dialect != "" && ch.Provider != ProviderSimulator {
			v.addf(f+".dialect", "only valid for provider %q", ProviderSimulator)
		}
		if ch.DefaultMaxTokens < 0 {
			v.addf(f+".default_max_tokens", "must not be negative, got %d", ch.DefaultMaxTokens)
		}
		for name := range ch.Headers {
			if strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Host") || strings.EqualFold(name, "Content-Length") {
				v.addf(f+".headers."+name, "tollgate sets this header itself; use api_key for credentials")
			}
		}
	}
}

// validateAPIStyle checks api_style and api_version.
func validateAPIStyle(v *validator, f string, ch Channel) {
	switch ch.APIStyle {
	case "", APIStyleOpenAI:
		if ch.APIVersion != "" {
			v.addf(f+".api_version", "only valid with api_style %q", APIStyleAzure)
		}
	case APIStyleAzure:
		for name := range ch.Headers {
			if strings.EqualFold(name, "api-key") {
				v.addf(f+".headers."+name, "tollgate sets this header itself; use api_key for credentials")
			}
		}
	default:
		v.addf(f+".api_style", "unknown API style %q (%s or %s)", ch.APIStyle, APIStyleOpenAI, APIStyleAzure)
	}
	if ch.APIStyle != "" && ch.Provider != ProviderOpenAI {
		v.addf(f+".api_style", "only valid for provider %q", ProviderOpenAI)
	}
}

func validateBaseURL(v *validator, field, raw string) {
	if raw == "" {
		v.addf(field, "required, e.g. https://api.openai.com/v1")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.addf(field, "want an http(s) URL such as https://api.openai.com/v1, got %q", raw)
		return
	}
	if u.RawQuery != "" || u.Fragment != "" {
		v.addf(field, "must not carry a query or fragment")
	}
}

func (s *Simulator) validate(v *validator, field string) {
	s.Default.validate(v, field+".default")
	for name, p := range s.Models {
		p.validate(v, field+".models."+name)
	}
}

func (p SimProfile) validate(v *validator, field string) {
	if p.Latency < 0 || p.FirstTokenDelay < 0 || p.TokensPerSecond < 0 || p.Length < 0 || p.EmbeddingDims < 0 {
		v.addf(field, "latency, first_token_delay, tokens_per_second, length and embedding_dims must not be negative")
	}
	f := p.Fault
	if f.Kind != "" && !slices.Contains(SimFaultKinds(), f.Kind) {
		v.addf(field+".fault.kind", "unknown fault %q (one of %s)", f.Kind, strings.Join(SimFaultKinds(), ", "))
	}
	if f.Kind == "status" && (f.Status < 400 || f.Status > 599) {
		v.addf(field+".fault.status", "want an HTTP error status 400-599, got %d", f.Status)
	}
	if f.Probability < 0 || f.Probability > 1 {
		v.addf(field+".fault.probability", "want a share between 0 and 1, got %v", f.Probability)
	}
	if f.After < 0 || f.Times < 0 || f.Every < 0 || f.Delay < 0 || f.RetryAfter < 0 {
		v.addf(field+".fault", "after, times, every, delay and retry_after must not be negative")
	}
}

func (c *Config) validateModels(v *validator) {
	channels := map[string]bool{}
	for _, ch := range c.Channels {
		channels[ch.Name] = true
	}
	names := map[string]string{}
	canonical := map[string]bool{}
	for _, m := range c.Models {
		canonical[m.Name] = true
	}
	claim := func(field, name, owner string) {
		if name == "" {
			v.addf(field, "required")
			return
		}
		if prev, ok := names[name]; ok {
			v.addf(field, "%q is already used by model %q", name, prev)
			return
		}
		names[name] = owner
	}
	for i, m := range c.Models {
		f := fmt.Sprintf("models[%d]", i)
		claim(f+".name", m.Name, m.Name)
		for j, a := range m.Aliases {
			claim(fmt.Sprintf("%s.aliases[%d]", f, j), a, m.Name)
		}
		c.validateModelResilience(v, f, m, canonical)
		if len(m.Routes) == 0 {
			v.addf(f+".routes", "model %q needs at least one route to a channel", m.Name)
		}
		for j, r := range m.Routes {
			rf := fmt.Sprintf("%s.routes[%d]", f, j)
			if !channels[r.Channel] {
				v.addf(rf+".channel", "no channel named %q is configured", r.Channel)
			}
			if r.Weight < 0 {
				v.addf(rf+".weight", "must not be negative")
			}
		}
	}
}

// ChannelTimeouts returns the channel's timeouts with unset phases taken
// from the upstream defaults.
func (c *Config) ChannelTimeouts(ch Channel) Timeouts {
	return ch.Timeouts.or(c.Upstream.Timeouts)
}

// or returns t with each unset phase taken from d.
func (t Timeouts) or(d Timeouts) Timeouts {
	for _, p := range []struct{ v, d *time.Duration }{
		{&t.Connect, &d.Connect}, {&t.ResponseHeader, &d.ResponseHeader}, {&t.FirstToken, &d.FirstToken},
		{&t.Idle, &d.Idle}, {&t.Total, &d.Total},
	} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	return t
}
