package config

import (
	_ "embed"
	"time"
)

// Default returns the configuration every file is layered on: safe values
// for every setting and no channels or models.
func Default() Config {
	return Config{
		Server: Server{
			Addr:              "127.0.0.1:8080",
			MaxBodyBytes:      16 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
		},
		Database: Database{Driver: "sqlite", Path: "tollgate.db"},
		Log:      Log{Level: "info", Format: "text"},
		RequestLog: RequestLog{
			Enabled:       true,
			QueueSize:     4096,
			BatchSize:     512,
			FlushInterval: 200 * time.Millisecond,
			Retention:     30 * 24 * time.Hour,
			MaxBodyBytes:  64 << 10,
		},
		Keys: Keys{RefreshInterval: 250 * time.Millisecond},
		Upstream: Upstream{
			Timeouts: Timeouts{
				Connect:        10 * time.Second,
				ResponseHeader: 120 * time.Second,
				FirstToken:     120 * time.Second,
				Idle:           120 * time.Second,
				Total:          10 * time.Minute,
			},
			MaxIdleConnsPerHost: 256,
			PlainHTTPClient:     PlainHTTPTollgate,
			Retry: Retry{
				MaxAttempts:    3,
				BackoffInitial: 250 * time.Millisecond,
				BackoffMax:     5 * time.Second,
				On:             RetryClasses(),
			},
			RetryBudget: RetryBudget{Ratio: 0.2, Window: 10 * time.Second, MinPerSecond: 1},
			Circuit: Circuit{
				ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 10,
				Window: 30 * time.Second, Cooldown: 5 * time.Second, MaxCooldown: time.Minute,
			},
			KeepAliveInterval: 15 * time.Second,
			Continuation:      Continuation{Enabled: true, MaxBufferBytes: 1 << 20},
		},
		Metrics: Metrics{Enabled: true},
		Tracing: Tracing{ServiceName: "tollgate", SampleRatio: 1},
		Limits: Limits{
			Backend: "memory", DayStart: "00:00", TimeZone: "UTC", DefaultMaxTokens: 1024,
			Redis: Redis{OnError: "fail_closed", Timeout: 250 * time.Millisecond},
		},
		Idempotency: Idempotency{Enabled: true, Window: 24 * time.Hour, MaxEntries: 100000, MaxResultBytes: 4 << 20},
	}
}

//go:embed embedded.yaml
var embeddedYAML []byte

// Embedded returns the configuration `tollgate serve` runs on when no file
// is given: Default plus the built-in simulator channel and a few models
// routed to it, so a newcomer gets answers without a provider account.
func Embedded() (Config, error) {
	return Parse(embeddedYAML, "embedded defaults", nil)
}

// EmbeddedYAML returns the text of the embedded default configuration.
func EmbeddedYAML() []byte { return append([]byte(nil), embeddedYAML...) }
