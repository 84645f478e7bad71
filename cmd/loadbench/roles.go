package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/internal/simupstream"
)

// childArg, as the first argument, makes the command run as one of the
// benchmark's server processes instead of the benchmark itself.
const childArg = "__loadbench-role"

// Role names, also the target names in the report.
const (
	roleUpstream = "upstream"
	roleProxy    = "proxy"
	roleTollgate = "tollgate"
)

// hello is the one JSON line a child prints on stdout once it listens.
type hello struct {
	// Addr is the host:port of the server under test.
	Addr string `json:"addr"`
	// Side is tollgate's loopback side listener (memory stats, pprof),
	// outside tollgate's own server.
	Side string `json:"side,omitempty"`
	// Key is the API key tollgate accepts.
	Key string `json:"key,omitempty"`
	// RedisPID is the process of tollgate's Redis server when it runs on
	// this machine (-limits redis), so its CPU can be told apart from
	// outside load; 0 if unknown.
	RedisPID int `json:"redis_pid,omitempty"`
}

// childMain runs one child role until its stdin closes (the parent is done
// or died) or it gets SIGTERM, and returns the exit status.
func childMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "loadbench child: missing role")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent holds the other end of stdin; EOF means it is gone.
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	var err error
	switch args[0] {
	case roleUpstream:
		err = runUpstream(ctx, args[1:])
	case roleProxy:
		err = runProxy(ctx, args[1:])
	case roleTollgate:
		err = runTollgate(ctx, args[1:])
	default:
		err = fmt.Errorf("unknown role %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// sayHello prints h as the child's only stdout line.
func sayHello(h hello) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s\n", b)
	return err
}

// listenLoopback listens on a free loopback port.
func listenLoopback() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

// serveUntil serves h on ln until ctx ends, then shuts down gracefully.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.NewTextHandler(os.Stderr, nil), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// runUpstream serves the simulator with its default, delay-free profile.
func runUpstream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(roleUpstream, flag.ContinueOnError)
	tokens := fs.Int("tokens", simupstream.DefaultLength, "answer length in tokens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sim := simupstream.New(simupstream.Options{Default: simupstream.Profile{Length: *tokens}})
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	if err := sayHello(hello{Addr: ln.Addr().String()}); err != nil {
		return err
	}
	return serveUntil(ctx, ln, sim)
}

// runProxy serves a bare ReverseProxy to the upstream, with a keep-alive
// pool large enough for the benchmark's connections and an immediate flush
// of every write.
func runProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(roleProxy, flag.ContinueOnError)
	upstream := fs.String("upstream", "", "upstream base `URL`")
	idle := fs.Int("max-idle", 256, "keep-alive connections per host")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad -upstream %q", *upstream)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   false,
			MaxIdleConnsPerHost: *idle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		FlushInterval: -1,
	}
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	if err := sayHello(hello{Addr: ln.Addr().String()}); err != nil {
		return err
	}
	return serveUntil(ctx, ln, fullDuplex(rp))
}

// fullDuplex lets a handler read the request body after it began writing
// the response. Without it the HTTP/1 server closes the unread body when
// the upstream's headers are relayed, and the transport, which reads the
// body once more after sending it to check its length, then tears down the
// upstream connection and cuts the answer (golang/go#40747). It is what a
// ReverseProxy needs to relay streams reliably under load.
func fullDuplex(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		h.ServeHTTP(w, r)
	})
}
