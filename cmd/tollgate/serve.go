package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/config"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [--config FILE] [--addr HOST:PORT]", stderr)
	cfgPath := configFlag(fs)
	addr := fs.String("addr", "", "listen address `host:port` (overrides server.addr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, fs.Args())
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *addr != "" {
		if _, _, err := net.SplitHostPort(*addr); err != nil {
			return fmt.Errorf("%w: --addr wants host:port, got %q", errUsage, *addr)
		}
		cfg.Server.Addr = *addr
	}
	log := newLogger(cfg.Log, stderr)
	a, err := app.New(ctx, cfg, app.Options{Logger: log, Version: version()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		_ = a.Close(context.Background())
		return fmt.Errorf("listening on %s: %w", cfg.Server.Addr, err)
	}
	return serve(ctx, ln, a, cfg, log)
}

// serve runs the HTTP server until ctx ends (SIGTERM or SIGINT), then
// stops accepting, lets in-flight requests finish up to the shutdown
// timeout, and flushes the request log.
func serve(ctx context.Context, ln net.Listener, a *app.App, cfg config.Config, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("tollgate listening", "addr", ln.Addr().String(), "version", version(),
		"models", len(a.Routes.Models()), "keys", a.Keys.Len(), "database", cfg.Database.Path)
	if a.Keys.Len() == 0 {
		log.Warn("no API keys yet: create one with `tollgate keys create --name NAME` (it works without a restart)")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
		log.Info("shutting down: waiting for in-flight requests", "timeout", cfg.Server.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("shutdown deadline passed: closing remaining connections", "error", err)
			_ = srv.Close()
		}
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serving: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Close(cctx); err != nil {
		return errors.Join(serveErr, err)
	}
	log.Info("tollgate stopped")
	return serveErr
}

// newLogger builds the process logger from the log settings.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
