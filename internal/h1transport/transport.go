// Package h1transport is an HTTP/1.1 client transport that performs each
// round trip on the calling goroutine. It writes the request to a pooled
// keep-alive connection and reads the answer itself, with net/http's own
// response parser; no other goroutine takes part in a request.
//
// net/http's Transport runs two goroutines per connection (one writes
// requests, one reads responses) and hands every request and response
// across them. On a gateway's hot path, in front of a plain-HTTP upstream
// on the same host or network (vLLM, Ollama, a sidecar), those hand-offs
// are a measurable share of the added latency and CPU. This transport
// serves exactly that case and passes every other request (https,
// proxied, bodies of unknown length or over 64 KiB, upgrades,
// 100-continue) to a fallback RoundTripper, normally a net/http
// Transport, which keeps HTTP/2 and TLS where they matter.
package h1transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxIdleConnsPerHost    = 256
	DefaultIdleConnTimeout        = 90 * time.Second
	DefaultMaxResponseHeaderBytes = 1 << 20
	DefaultMaxBodyBytes           = 64 << 10
)

// ErrHeaderTooLarge is returned when a response's header exceeds
// Options.MaxResponseHeaderBytes.
var ErrHeaderTooLarge = errors.New("h1transport: response header too large")

// Options configure a Transport.
type Options struct {
	// DialContext opens connections. Nil means a net.Dialer with a 10s
	// timeout and TCP keep-alives.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy reports the proxy for a request, as http.Transport.Proxy does.
	// A request with a proxy goes to Fallback. Nil means no proxy.
	Proxy func(*http.Request) (*url.URL, error)
	// Fallback serves the requests this transport does not: other schemes
	// than http, proxied requests, bodies of unknown length or over
	// MaxBodyBytes, upgrades, Expect headers and request trailers. Nil
	// means http.DefaultTransport.
	Fallback http.RoundTripper
	// MaxIdleConnsPerHost bounds the keep-alive pool per host. Zero means
	// DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes a pooled connection that stayed unused this
	// long. Zero means DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's status line and header.
	// Zero means DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int64
	// MaxBodyBytes is the largest request body this transport sends
	// itself; a larger one goes to Fallback. This transport writes the
	// whole request before it reads the answer, so a server that answers
	// early (a 413, say) without reading the rest could leave a long write
	// waiting; net/http reads the answer while it still sends, and a body
	// this large costs far more than the hand-offs it adds. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Transport is an http.RoundTripper for HTTP/1.1 over plain TCP. It is
// safe for concurrent use. The zero value is not usable; call New.
type Transport struct {
	opts     Options
	fallback http.RoundTripper

	mu   sync.Mutex
	idle map[string][]*conn // per host:port, most recently used last
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport with opts, zero fields taking their defaults.
func New(opts Options) *Transport {
	if opts.DialContext == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		opts.DialContext = d.DialContext
	}
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if opts.IdleConnTimeout <= 0 {
		opts.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if opts.MaxResponseHeaderBytes <= 0 {
		opts.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	fb := opts.Fallback
	if fb == nil {
		fb = http.DefaultTransport
	}
	return &Transport{opts: opts, fallback: fb, idle: map[string][]*conn{}}
}

// RoundTrip sends req and returns its response, as http.RoundTripper
// requires: the request body is always closed, and the caller must read
// the response body to its end or close it. A body read to io.EOF hands
// the connection back to the pool; a body closed early hands it back only
// if the rest of the response was already received, and closes it
// otherwise. Canceling the request's context aborts the round trip and the
// body read at once.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.serves(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	addr := hostPort(req.URL)
	body := req.Body
	for retried := false; ; retried = true {
		c, reused, err := t.getConn(ctx, addr)
		if err != nil {
			closeBody(body)
			return nil, err
		}
		resp, err := c.roundTrip(ctx, req, body)
		if err == nil {
			return resp, nil
		}
		// A pooled connection the server had just closed fails before
		// anything of the request went out; sending it again on a new
		// connection is safe whatever the method.
		var nw *nothingWrittenError
		if !reused || retried || !errors.As(err, &nw) || ctx.Err() != nil {
			return nil, err
		}
		if body, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// serves reports whether req is for this transport rather than Fallback.
func (t *Transport) serves(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return false
	}
	if req.Method == http.MethodConnect || len(req.Trailer) > 0 || req.Header.Get("Expect") != "" || req.Header.Get("Upgrade") != "" {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		return false // unknown length: net/http sends it chunked
	}
	if req.ContentLength > t.opts.MaxBodyBytes {
		return false
	}
	if t.opts.Proxy != nil {
		if u, err := t.opts.Proxy(req); err != nil || u != nil {
			return false
		}
	}
	return true
}

// CloseIdleConnections closes the pooled connections, here and in the
// fallback transport, as http.Transport's method does: connections in use
// are not affected.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*conn{}
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.idleTimer.Stop()
			_ = c.nc.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// getConn returns a live pooled connection to addr, or a new one.
func (t *Transport) getConn(ctx context.Context, addr string) (c *conn, reused bool, err error) {
	for {
		c = t.takeIdle(addr)
		if c == nil {
			break
		}
		if c.alive() {
			return c, true, nil
		}
		_ = c.nc.Close()
	}
	nc, err := t.opts.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return newConn(t, addr, nc), false, nil
}

// takeIdle pops the most recently used idle connection to addr.
func (t *Transport) takeIdle(addr string) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		cs := t.idle[addr]
		if len(cs) == 0 {
			return nil
		}
		c := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[addr] = cs[:len(cs)-1]
		if c.idleTimer.Stop() {
			return c
		}
		// Its idle timer fired and is closing it; take another.
	}
}

// putIdle returns c to the pool, or closes it when the pool is full.
func (t *Transport) putIdle(c *conn) {
	t.mu.Lock()
	cs := t.idle[c.addr]
	if len(cs) >= t.opts.MaxIdleConnsPerHost {
		t.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	t.idle[c.addr] = append(cs, c)
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(t.opts.IdleConnTimeout, func() { t.expire(c) })
	} else {
		c.idleTimer.Reset(t.opts.IdleConnTimeout)
	}
	t.mu.Unlock()
}

// expire drops c from the pool after its idle timeout and closes it.
func (t *Transport) expire(c *conn) {
	t.mu.Lock()
	cs := t.idle[c.addr]
	for i, x := range cs {
		if x == c {
			t.idle[c.addr] = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	_ = c.nc.Close()
}

// hostPort returns u's host with the default port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// rewind returns a fresh copy of req's body for a second attempt.
func rewind(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("h1transport: cannot resend the request: its body cannot be read again (no GetBody)")
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("h1transport: cannot resend the request: %w", err)
	}
	return b, nil
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}
