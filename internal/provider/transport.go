package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/internal/h1transport"
)

// TransportOptions configure an upstream HTTP transport.
type TransportOptions struct {
	// ConnectTimeout bounds TCP connect and TLS handshake. Zero means 10s.
	ConnectTimeout time.Duration
	// MaxIdleConnsPerHost is the keep-alive pool per host. Zero means 256.
	MaxIdleConnsPerHost int
	// StdlibOnly serves plain-HTTP upstreams with net/http too, instead of
	// the h1transport client (config upstream.plain_http_client).
	StdlibOnly bool
}

// idleConnTimeout is how long an unused upstream connection is kept.
const idleConnTimeout = 90 * time.Second

// NewTransport returns an HTTP transport tuned for a gateway: a large
// keep-alive pool, HTTP/2 when the upstream offers it, proxies from the
// environment, and dial errors marked so that a failed connect (nothing
// reached the upstream) is told apart from a failure after sending.
// Plain-HTTP upstreams are served by h1transport, which does each round
// trip on the caller's goroutine, unless opts.StdlibOnly; https, proxied
// and other requests by a net/http Transport. Neither retries a request
// by itself, except one whose connection failed before any of it was
// written.
func NewTransport(opts TransportOptions) http.RoundTripper {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = 256
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &ConnectError{Err: err}
		}
		return c, nil
	}
	std := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   opts.MaxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
	}
	if opts.StdlibOnly {
		return std
	}
	return h1transport.New(h1transport.Options{
		DialContext:         dial,
		Proxy:               http.ProxyFromEnvironment,
		Fallback:            std,
		MaxIdleConnsPerHost: opts.MaxIdleConnsPerHost,
		IdleConnTimeout:     idleConnTimeout,
	})
}

// ConnectError marks a failure to establish a connection: the request
// never reached the upstream, so sending it elsewhere is always safe.
type ConnectError struct{ Err error }

// Error implements error.
func (e *ConnectError) Error() string { return "connect: " + e.Err.Error() }

// Unwrap returns the dial error.
func (e *ConnectError) Unwrap() error { return e.Err }

// Timeout reports whether the connect attempt ran out of time.
func (e *ConnectError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

type connectTimeoutKey struct{}

// WithConnectTimeout returns a context asking transports made by
// NewTransport to bound a new connection's dial by d (on top of their own
// ConnectTimeout). The dial may serve other requests later; only its
// establishment is bounded.
func WithConnectTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, connectTimeoutKey{}, d)
}
