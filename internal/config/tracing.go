package config

import (
	"net/url"
	"strings"
)

// Tracing configures OpenTelemetry traces exported over OTLP/HTTP in the
// OTLP JSON encoding, which every OTLP/HTTP collector accepts: one span
// per client request and one child span per upstream attempt. Spans carry
// request ids, model and channel names, statuses and failure classes,
// never keys or bodies. The standard variables OTEL_EXPORTER_OTLP_HEADERS,
// _TIMEOUT and _COMPRESSION (and their OTEL_EXPORTER_OTLP_TRACES_ forms)
// apply. Off by default.
type Tracing struct {
	// Enabled turns tracing on. Default false.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP URL, e.g.
	// http://otel-collector:4318 (the path /v1/traces is added when the
	// URL has none). Empty uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it
	// is, else OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces added, else
	// http://localhost:4318/v1/traces.
	Endpoint string `yaml:"endpoint"`
	// ServiceName is the service.name resource attribute. Default
	// "tollgate".
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of requests traced, from 0 to 1. A request
	// whose caller sent a sampled traceparent is not forced in: tollgate
	// decides by its own ratio. Default 1.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// TracesURL returns the endpoint with /v1/traces added when it has no
// path, or "" when Endpoint is empty.
func (t Tracing) TracesURL() string {
	u, err := url.Parse(t.Endpoint)
	if t.Endpoint == "" || err != nil {
		return t.Endpoint
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/v1/traces"
	}
	return u.String()
}

func (c *Config) validateTracing(v *validator) {
	t := c.Tracing
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		v.addf("tracing.sample_ratio", "must be between 0 and 1, got %v", t.SampleRatio)
	}
	if t.Enabled && t.ServiceName == "" {
		v.addf("tracing.service_name", "required when tracing is enabled")
	}
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.addf("tracing.endpoint", "want an http:// or https:// URL such as http://localhost:4318, got %q", t.Endpoint)
		}
	}
}
