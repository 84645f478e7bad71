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

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/provider/openaicompat"
	"github.com/tollgate/tollgate/internal/reqlog"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/server"
	"github.com/tollgate/tollgate/internal/simupstream"
	"github.com/tollgate/tollgate/internal/store"
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
}

// New opens the store, loads the keys and builds the server. The key
// cache refreshes in the background until Close.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := openStore(ctx, cfg.Database)
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
	var rl server.RequestLogger
	if cfg.RequestLog.Enabled {
		a.logWriter = reqlog.NewWriter(a.Store, reqlog.Options{
			QueueSize: cfg.RequestLog.QueueSize, BatchSize: cfg.RequestLog.BatchSize,
			FlushInterval: cfg.RequestLog.FlushInterval, Logger: a.log,
		})
		rl = a.logWriter
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.wg.Go(func() { a.Keys.Run(runCtx) })
	a.Handler = server.New(server.Options{
		Keys:         a.Keys,
		Routes:       routes,
		RequestLog:   rl,
		Logger:       a.log,
		MaxBodyBytes: int64(cfg.Server.MaxBodyBytes),
		TotalTimeout: cfg.Upstream.Timeouts.Total,
	})
	return nil
}

// RequestLog returns the request log writer, or nil when it is disabled.
func (a *App) RequestLog() *reqlog.Writer { return a.logWriter }

// Close stops the key refresh, writes every queued log row and closes the
// store. ctx bounds the wait for the log rows.
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
		err = errors.Join(err, a.Store.Close())
	})
	return err
}

func openStore(ctx context.Context, db config.Database) (store.Store, error) {
	switch db.Driver {
	case "sqlite":
		st, err := sqlite.Open(ctx, db.Path)
		if err != nil {
			return nil, fmt.Errorf("opening the database %s: %w", db.Path, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown database driver %q", db.Driver)
}

// buildRoutes turns the model list into a routing table.
func buildRoutes(cfg config.Config, adapters map[string]provider.Adapter) (*router.Table, error) {
	models := make([]router.Model, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		rm := router.Model{Name: m.Name, Aliases: m.Aliases, OwnedBy: m.OwnedBy}
		for _, r := range m.Routes {
			ad, ok := adapters[r.Channel]
			if !ok {
				return nil, fmt.Errorf("model %s: unknown channel %q", m.Name, r.Channel)
			}
			rm.Targets = append(rm.Targets, router.Target{Channel: r.Channel, Adapter: ad, UpstreamModel: r.Model, Weight: r.Weight, Priority: r.Priority})
		}
		models = append(models, rm)
	}
	return router.New(models)
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
			Timeouts: openaicompat.Timeouts{ResponseHeader: t.ResponseHeader, Idle: t.Idle},
		}
		switch ch.Provider {
		case config.ProviderSimulator:
			sim := simupstream.New(simulatorOptions(ch.Simulator))
			sims[ch.Name] = sim
			opts.BaseURL = "http://simulator.invalid/v1"
			opts.Client = &http.Client{Transport: simupstream.Transport(sim)}
		case config.ProviderOpenAI:
			opts.Client = &http.Client{Transport: provider.NewTransport(provider.TransportOptions{
				ConnectTimeout: t.Connect, MaxIdleConnsPerHost: cfg.Upstream.MaxIdleConnsPerHost,
			})}
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
		Fault: simupstream.Fault{
			Kind: simupstream.FaultKind(p.Fault.Kind), Status: p.Fault.Status, Code: p.Fault.Code, Message: p.Fault.Message,
			RetryAfter: p.Fault.RetryAfter, After: p.Fault.After, Delay: p.Fault.Delay,
			Probability: p.Fault.Probability, Times: p.Fault.Times,
		},
	}
}
