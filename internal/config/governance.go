package config

import (
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/redact"
)

// Limits configures tollgate's own limits: where the counters live, the
// limits on all traffic and per model, and when quota days start. Per-key
// and per-group limits are set on keys and groups (CLI or admin API).
type Limits struct {
	// Backend holds the counters: "memory" (this process only; the
	// default) or "redis" (shared by every instance).
	Backend string `yaml:"backend"`
	// Redis configures the Redis backend.
	Redis Redis `yaml:"redis"`
	// Global limits all traffic through this gateway.
	Global RateLimits `yaml:"global"`
	// Models limits traffic per model name.
	Models map[string]RateLimits `yaml:"models"`
	// DayStart is the time of day ("HH:MM") daily quotas reset. Default "00:00".
	DayStart string `yaml:"day_start"`
	// TimeZone is the IANA zone of quota days and budget months. Default "UTC".
	TimeZone string `yaml:"time_zone"`
	// DefaultMaxTokens estimates the answer of a request without max_tokens,
	// for token limits and cost reservations. Default 1024.
	DefaultMaxTokens int64 `yaml:"default_max_tokens"`
}

// RateLimits are request, token and concurrency limits; zero means none.
type RateLimits struct {
	RPM         int64 `yaml:"rpm"`
	TPM         int64 `yaml:"tpm"`
	Concurrency int64 `yaml:"concurrency"`
}

// Redis configures the shared counter backend.
type Redis struct {
	// URL is the server, e.g. redis://:password@host:6379/0. Use
	// ${ENV_VAR} for the password.
	URL redact.Secret `yaml:"url"`
	// OnError says what happens while Redis is unreachable: "fail_closed"
	// (requests get a 503; the default) or "fail_open" (requests pass
	// without limits). tollgate logs the outage and recovers by itself.
	OnError string `yaml:"on_error"`
	// Timeout bounds one limiter round trip. Default 250ms.
	Timeout time.Duration `yaml:"timeout"`
}

// Price is a model's price per million tokens, as a decimal amount of the
// currency (e.g. "0.15"); it is parsed exactly, without floating point.
type Price struct {
	Input       string `yaml:"input"`
	Output      string `yaml:"output"`
	CachedInput string `yaml:"cached_input"`
}

// DayStartOffset returns DayStart as an offset from midnight.
func (l Limits) DayStartOffset() time.Duration {
	t, err := time.Parse("15:04", l.DayStart)
	if err != nil {
		return 0
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
}

func (c *Config) validateGovernance(v *validator) {
	l := c.Limits
	switch l.Backend {
	case "memory":
	case "redis":
		if l.Redis.URL.IsZero() {
			v.addf("limits.redis.url", "required when limits.backend is redis")
		}
	default:
		v.addf("limits.backend", "want memory or redis, got %q", l.Backend)
	}
	if l.Redis.OnError != "fail_closed" && l.Redis.OnError != "fail_open" {
		v.addf("limits.redis.on_error", "want fail_closed or fail_open, got %q", l.Redis.OnError)
	}
	if _, err := time.Parse("15:04", l.DayStart); err != nil {
		v.addf("limits.day_start", "want a time of day such as 00:00, got %q", l.DayStart)
	}
	if _, err := time.LoadLocation(l.TimeZone); err != nil {
		v.addf("limits.time_zone", "unknown time zone %q", l.TimeZone)
	}
	check := func(field string, r RateLimits) {
		if r.RPM < 0 || r.TPM < 0 || r.Concurrency < 0 {
			v.addf(field, "limits must not be negative")
		}
	}
	check("limits.global", l.Global)
	for name, r := range l.Models {
		check("limits.models."+name, r)
	}
	for model, p := range c.Prices {
		for field, s := range map[string]string{"input": p.Input, "output": p.Output, "cached_input": p.CachedInput} {
			if s == "" {
				continue
			}
			if err := checkDecimal(s); err != nil {
				v.addf(fmt.Sprintf("prices.%s.%s", model, field), "%v", err)
			}
		}
	}
	switch c.Database.Driver {
	case "postgres":
		if c.Database.URL.IsZero() {
			v.addf("database.url", "required for the postgres driver, e.g. postgres://user:${PGPASSWORD}@host:5432/tollgate")
		}
	}
}

// checkDecimal accepts a non-negative decimal with at most 6 fractional digits.
func checkDecimal(s string) error {
	dot := false
	frac := 0
	for i, c := range s {
		switch {
		case c == '.' && !dot && i > 0:
			dot = true
		case c >= '0' && c <= '9':
			if dot {
				frac++
			}
		default:
			return fmt.Errorf("want a decimal amount such as 0.15, got %q", s)
		}
	}
	if frac > 6 {
		return fmt.Errorf("%q has more than 6 decimal places", s)
	}
	return nil
}
