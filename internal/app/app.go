// Package app wires a configuration into a running gateway: the store,
// the key cache, the request log writer, one adapter per channel, the
// routing table and the HTTP server. The command and the end-to-end tests
// both build tollgate through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/backoff"
	"github.com/tollgate/tollgate/internal/breaker"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/governance"
	"github.com/tollgate/tollgate/internal/idempotency"
	"github.com/tollgate/tollgate/internal/metrics"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/provider/anthropic"
	"github.com/tollgate/tollgate/internal/provider/gemini"
	"github.com/tollgate/tollgate/internal/provider/openaicompat"
	"github.com/tollgate/tollgate/internal/reqlog"
	"github.com/tollgate/tollgate/internal/retrybudget"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/server"
	"github.com/tollgate/tollgate/internal/simupstream"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/postgres"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// App is a wired gateway. Close releases everything it started.
type App struct {
	// Handler serves the HTTP API.
	Handler http.Handler
	// Store holds keys and the request log.
	Store store.Store
	// Keys is the in-memory key cache.
	Keys *auth.Cache
	// Routes is the routing table.
	Routes *router.Table
	// Simulators are the built-in simulators by channel name, so tests
	// and tools can change their behaviour at run time.
	Simulators map[string]*simupstream.Simulator
	// Breaker holds the per-channel circuit state.
	Breaker *breaker.Set
	// Budget bounds retries per channel.
	Budget *retrybudget.Budget
	// Metrics records request metrics; nil when metrics are disabled.
	Metrics *metrics.Metrics
	// Governor enforces limits, quotas, budgets and balances.
	Governor *governance.Engine
	// Groups caches groups; Credits caches owners' credited totals.
	Groups  *auth.GroupCache
	Credits *governance.CreditCache

	prices   *priceCache
	redis    *redis.Client
	registry *prometheus.Registry
	traces   *sdktrace.TracerProvider // nil when tracing is off

	clients   []*http.Client
	log       *slog.Logger
	logWriter *reqlog.Writer
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Options tune New beyond the configuration.
type Options struct {
	// Logger receives tollgate's logs. Nil discards them.
	Logger *slog.Logger
	// Version is reported upstream in the User-Agent.
	Version string
	// TraceExporter, if set, receives the spans instead of the OTLP
	// collector when tracing is enabled; each span is exported as it
	// ends. For tests.
	TraceExporter sdktrace.SpanExporter
}

// New opens the store, loads the keys and builds the server. The key
// cache refreshes in the background until Close.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := OpenStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	a := &App{Store: st, log: log}
	if err := a.build(ctx, cfg, opts); err != nil {
		_ = st.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, cfg config.Config, opts Options) error {
	a.Keys = auth.NewCache(a.Store, auth.CacheOptions{Interval: cfg.Keys.RefreshInterval, Logger: a.log})
	if err := a.Keys.Refresh(ctx); err != nil {
		return fmt.Errorf("loading API keys: %w", err)
	}
	adapters, sims, clients, err := buildAdapters(cfg, opts.Version)
	if err != nil {
		return err
	}
	a.clients = clients
	a.Simulators = sims
	routes, err := buildRoutes(cfg, adapters)
	if err != nil {
		return err
	}
	a.Routes = routes
	a.Breaker = breaker.New(breaker.Options{
		ConsecutiveFailures: cfg.Upstream.Circuit.ConsecutiveFailures, FailureRatio: cfg.Upstream.Circuit.FailureRatio,
		MinRequests: cfg.Upstream.Circuit.MinRequests, Window: cfg.Upstream.Circuit.Window,
		Cooldown: cfg.Upstream.Circuit.Cooldown, MaxCooldown: cfg.Upstream.Circuit.MaxCooldown,
		OnChange: func(ch string, from, to breaker.State) {
			a.log.Warn("channel circuit changed", "channel", ch, "from", from.String(), "to", to.String())
		},
	})
	a.Budget = retrybudget.New(retrybudget.Options{
		Ratio: cfg.Upstream.RetryBudget.Ratio, Window: cfg.Upstream.RetryBudget.Window, MinPerSecond: cfg.Upstream.RetryBudget.MinPerSecond,
	})
	var rl server.RequestLogger
	if cfg.RequestLog.Enabled {
		a.logWriter = reqlog.NewWriter(a.Store, reqlog.Options{
			QueueSize: cfg.RequestLog.QueueSize, BatchSize: cfg.RequestLog.BatchSize,
			FlushInterval: cfg.RequestLog.FlushInterval, Logger: a.log, Retention: cfg.RequestLog.Retention,
		})
		rl = a.logWriter
	}
	if err := a.buildGovernance(ctx, cfg); err != nil {
		return err
	}
	var mh http.Handler
	if cfg.Metrics.Enabled {
		reg := prometheus.NewRegistry()
		mopts := metrics.Options{Circuits: a.Breaker, Runtime: true}
		if a.logWriter != nil {
			mopts.LogQueue = a.logWriter
		}
		a.Metrics = metrics.New(reg, mopts)
		a.registry = reg
		mh = metrics.Handler(reg)
	}
	tracer, err := a.buildTracing(cfg.Tracing, opts.Version, opts.TraceExporter)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.wg.Go(func() { a.Keys.Run(runCtx) })
	a.runCaches(runCtx, cfg.Keys.RefreshInterval)
	a.Handler = server.New(server.Options{
		Keys:            a.Keys,
		Routes:          routes,
		RequestLog:      rl,
		Logger:          a.log,
		MaxBodyBytes:    int64(cfg.Server.MaxBodyBytes),
		LogBodyMaxBytes: int(cfg.RequestLog.MaxBodyBytes),
		Executor:        &router.Executor{Breaker: a.Breaker, Budget: a.Budget},
		KeepAlive:       cfg.Upstream.KeepAliveInterval,
		Continuation: server.Continuation{
			Enabled: cfg.Upstream.Continuation.Enabled, MaxBufferBytes: int(cfg.Upstream.Continuation.MaxBufferBytes),
		},
		Circuits:            a.Breaker,
		Budget:              a.Budget,
		Idempotency:         idempotencyStore(cfg.Idempotency),
		IdempotencyMaxBytes: int(cfg.Idempotency.MaxResultBytes),
		Metrics:             a.Metrics,
		Governor:            a.Governor,
		Admin:               a.Store,
		OnKeyChange:         func(k store.Key) { a.Keys.Apply(k) },
		MetricsHandler:      mh,
		Tracer:              tracer,
	})
	return nil
}

// idempotencyStore returns the store for Idempotency-Key answers, or nil
// when the feature is off.
func idempotencyStore(c config.Idempotency) idempotency.Store {
	if !c.Enabled {
		return nil
	}
	return idempotency.NewMemory(idempotency.MemoryOptions{Window: c.Window, MaxEntries: c.MaxEntries, MaxResultBytes: int(c.MaxResultBytes)})
}

// Registry returns the Prometheus registry the metrics are registered on
// (what /metrics serves), or nil when metrics are disabled.
func (a *App) Registry() *prometheus.Registry { return a.registry }

// RequestLog returns the request log writer, or nil when it is disabled.
func (a *App) RequestLog() *reqlog.Writer { return a.logWriter }

// Close stops the key refresh, writes every queued log row, flushes the
// traces and closes the store. ctx bounds the wait for the log rows.
func (a *App) Close(ctx context.Context) error {
	var err error
	a.closeOnce.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
		for _, c := range a.clients {
			c.CloseIdleConnections()
		}
		if a.logWriter != nil {
			if cerr := a.logWriter.Close(ctx); cerr != nil {
				err = fmt.Errorf("flushing the request log: %w", cerr)
			}
		}
		if a.traces != nil {
			if terr := a.traces.Shutdown(ctx); terr != nil {
				err = errors.Join(err, fmt.Errorf("flushing traces: %w", terr))
			}
		}
		if a.redis != nil {
			err = errors.Join(err, a.redis.Close())
		}
		err = errors.Join(err, a.Store.Close())
	})
	return err
}

// OpenStore opens the configured database (SQLite or PostgreSQL) and
// applies its migrations.
func OpenStore(ctx context.Context, db config.Database) (store.Store, error) {
	switch db.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, db.URL.Reveal())
		if err != nil {
			return nil, fmt.Errorf("opening the PostgreSQL database: %w", err)
		}
		return st, nil
	case "sqlite":
		st, err := sqlite.Open(ctx, db.Path)
		if err != nil {
			return nil, fmt.Errorf("opening the database %s: %w", db.Path, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown database driver %q", db.Driver)
}

// buildRoutes turns the model list into a routing table: targets with
// their effective timeouts, fallbacks and retry policies per endpoint.
func buildRoutes(cfg config.Config, adapters map[string]provider.Adapter) (*router.Table, error) {
	channels := make(map[string]config.Channel, len(cfg.Channels))
	for _, ch := range cfg.Channels {
		channels[ch.Name] = ch
	}
	models := make([]router.Model, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		rm := router.Model{Name: m.Name, Aliases: m.Aliases, OwnedBy: m.OwnedBy, Policies: map[string]router.Policy{}}
		for _, r := range m.Routes {
			ad, ok := adapters[r.Channel]
			if !ok {
				return nil, fmt.Errorf("model %s: unknown channel %q", m.Name, r.Channel)
			}
			ch := channels[r.Channel]
			t := cfg.TimeoutsFor(m, ch)
			rm.Targets = append(rm.Targets, router.Target{
				Channel: r.Channel, Adapter: ad, UpstreamModel: r.Model, Weight: r.Weight, Priority: r.Priority,
				Timeouts: provider.Timeouts{Connect: t.Connect, ResponseHeader: t.ResponseHeader, FirstToken: t.FirstToken, Idle: t.Idle},
				Prefill:  ch.AcceptsPrefill(),
			})
			rm.Total = t.Total
		}
		if len(m.Routes) == 0 {
			rm.Total = cfg.TimeoutsFor(m, config.Channel{}).Total
		}
		for _, fb := range m.Fallbacks {
			on := fb.On
			if len(on) == 0 {
				on = []string{config.ClassRateLimit, config.ClassTimeout, config.ClassServerError}
			}
			rm.Fallbacks = append(rm.Fallbacks, router.Fallback{Model: fb.Model, On: classes(on)})
		}
		for _, ep := range []string{"chat", "completions", "embeddings"} {
			r := cfg.RetryFor(m, ep)
			rm.Policies[ep] = router.Policy{MaxAttempts: r.MaxAttempts, RetryOn: classes(r.On),
				Backoff: backoff.Policy{Initial: r.BackoffInitial, Max: r.BackoffMax}}
		}
		models = append(models, rm)
	}
	return router.New(models)
}

func classes(names []string) []router.Class {
	out := make([]router.Class, len(names))
	for i, n := range names {
		out[i] = router.Class(n)
	}
	return out
}

// anthropicAdapter builds the Messages API adapter of channel ch with the
// client, timeouts and user agent already chosen in opts.
func anthropicAdapter(ch config.Channel, opts openaicompat.Options, baseURL string) (provider.Adapter, error) {
	return anthropic.New(anthropic.Options{
		Channel: ch.Name, BaseURL: baseURL, APIKey: ch.APIKey, Version: ch.AnthropicVersion,
		DefaultMaxTokens: ch.DefaultMaxTokens, Headers: ch.Headers, Client: opts.Client,
		Timeouts: opts.Timeouts, UserAgent: opts.UserAgent,
	})
}

// geminiAdapter builds the Gemini adapter of channel ch with the client,
// timeouts and user agent already chosen in opts; an empty baseURL means
// Google's API.
func geminiAdapter(ch config.Channel, opts openaicompat.Options, baseURL string) (provider.Adapter, error) {
	return gemini.New(gemini.Options{
		Channel: ch.Name, BaseURL: baseURL, APIKey: ch.APIKey, Headers: ch.Headers, Client: opts.Client,
		Timeouts: opts.Timeouts, UserAgent: opts.UserAgent,
	})
}

// buildAdapters makes one adapter per channel; simulator channels get an
// in-process simulator reached without any network.
func buildAdapters(cfg config.Config, version string) (map[string]provider.Adapter, map[string]*simupstream.Simulator, []*http.Client, error) {
	adapters := make(map[string]provider.Adapter, len(cfg.Channels))
	sims := map[string]*simupstream.Simulator{}
	var clients []*http.Client
	ua := "tollgate"
	if version != "" {
		ua += "/" + version
	}
	for _, ch := range cfg.Channels {
		t := cfg.ChannelTimeouts(ch)
		opts := openaicompat.Options{
			Channel: ch.Name, BaseURL: ch.BaseURL, APIKey: ch.APIKey, Headers: ch.Headers, UserAgent: ua,
			Timeouts: provider.Timeouts{ResponseHeader: t.ResponseHeader, FirstToken: t.FirstToken, Idle: t.Idle},
			APIStyle: ch.APIStyle, APIVersion: ch.APIVersion, Responses: ch.Responses,
		}
		switch ch.Provider {
		case config.ProviderSimulator:
			sim := simupstream.New(simulatorOptions(ch.Simulator))
			sims[ch.Name] = sim
			opts.BaseURL = "http://simulator.invalid/v1"
			opts.Client = &http.Client{Transport: simupstream.Transport(sim)}
			if ch.Dialect == config.DialectAnthropic {
				ad, err := anthropicAdapter(ch, opts, "http://simulator.invalid")
				if err != nil {
					return nil, nil, nil, err
				}
				adapters[ch.Name], clients = ad, append(clients, opts.Client)
				continue
			}
			if ch.Dialect == config.DialectGemini {
				ad, err := geminiAdapter(ch, opts, "http://simulator.invalid/v1beta")
				if err != nil {
					return nil, nil, nil, err
				}
				adapters[ch.Name], clients = ad, append(clients, opts.Client)
				continue
			}
		case config.ProviderGemini:
			opts.Client = upstreamClient(cfg, t.Connect)
			ad, err := geminiAdapter(ch, opts, ch.BaseURL)
			if err != nil {
				return nil, nil, nil, err
			}
			adapters[ch.Name], clients = ad, append(clients, opts.Client)
			continue
		case config.ProviderAnthropic:
			opts.Client = upstreamClient(cfg, t.Connect)
			ad, err := anthropicAdapter(ch, opts, ch.BaseURL)
			if err != nil {
				return nil, nil, nil, err
			}
			adapters[ch.Name], clients = ad, append(clients, opts.Client)
			continue
		case config.ProviderOpenAI:
			opts.Client = upstreamClient(cfg, t.Connect)
		default:
			return nil, nil, nil, fmt.Errorf("channel %s: unknown provider %q", ch.Name, ch.Provider)
		}
		ad, err := openaicompat.New(opts)
		if err != nil {
			return nil, nil, nil, err
		}
		adapters[ch.Name] = ad
		clients = append(clients, opts.Client)
	}
	return adapters, sims, clients, nil
}

// upstreamClient is the HTTP client of a channel that reaches a real
// upstream.
func upstreamClient(cfg config.Config, connect time.Duration) *http.Client {
	return &http.Client{Transport: provider.NewTransport(provider.TransportOptions{
		ConnectTimeout: connect, MaxIdleConnsPerHost: cfg.Upstream.MaxIdleConnsPerHost,
		StdlibOnly: cfg.Upstream.PlainHTTPClient == config.PlainHTTPStdlib,
	})}
}

// simulatorOptions converts the configuration of a simulator channel.
func simulatorOptions(c *config.Simulator) simupstream.Options {
	opts := simupstream.Options{Profiles: map[string]simupstream.Profile{}}
	if c == nil {
		return opts
	}
	opts.Default = simProfile(c.Default)
	for name, p := range c.Models {
		opts.Profiles[name] = simProfile(p)
	}
	return opts
}

func simProfile(p config.SimProfile) simupstream.Profile {
	return simupstream.Profile{
		Latency:         p.Latency,
		FirstTokenDelay: p.FirstTokenDelay,
		TokensPerSecond: p.TokensPerSecond,
		Length:          p.Length,
		EmbeddingDims:   p.EmbeddingDims,
		RejectPrefill:   p.RejectPrefill,
		Fault: simupstream.Fault{
			Kind: simupstream.FaultKind(p.Fault.Kind), Status: p.Fault.Status, Code: p.Fault.Code, Message: p.Fault.Message,
			RetryAfter: p.Fault.RetryAfter, After: p.Fault.After, Delay: p.Fault.Delay,
			Probability: p.Fault.Probability, Times: p.Fault.Times, Every: p.Fault.Every,
		},
	}
}
