// Package traceexport sends OpenTelemetry spans to an OTLP/HTTP collector in the OTLP JSON encoding.
//
// It replaces the official OTLP/HTTP exporter, which links gRPC and the
// OTLP protobuf packages into the binary even though it speaks only HTTP. Every
// OTLP/HTTP receiver accepts JSON: a POST to the traces URL (by default
// http://localhost:4318/v1/traces) with Content-Type application/json.
package traceexport

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate/tollgate/internal/backoff"
)

// DefaultTimeout bounds one export, retries included, when
// Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// ErrShutdown is returned by ExportSpans once the exporter is shut down.
var ErrShutdown = errors.New("traceexport: exporter is shut down")

// Options configures an Exporter.
type Options struct {
	// URL is the full traces URL, such as
	// http://otel-collector:4318/v1/traces: no path is added to it.
	// Required; the scheme must be http or https.
	URL string
	// Headers are sent with every export, typically an authorization
	// header. Their values are never logged or put into errors.
	Headers map[string]string
	// Timeout bounds one ExportSpans call, retries included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Compression is "gzip" or "" / "none" for none.
	Compression string
	// Client sends the requests. Nil means a client of the exporter's own,
	// with keep-alive connections and the proxy settings of the
	// environment (HTTPS_PROXY, NO_PROXY), whose idle connections Shutdown
	// closes. A caller's client is used as is and left open.
	Client *http.Client
}

// String describes o without the header values, so that printing or
// logging options cannot leak a secret.
func (o Options) String() string {
	names := make([]string, 0, len(o.Headers))
	for k := range o.Headers {
		if !validHeaderName(k) {
			k = "(invalid name)" // it may hold a value
		}
		names = append(names, k)
	}
	slices.Sort(names)
	return fmt.Sprintf("traceexport.Options{URL: %s, Headers: %v (values hidden), Timeout: %v, Compression: %q}",
		redactURL(o.URL), names, o.Timeout, o.Compression)
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Exporter sends spans to an OTLP/HTTP collector as JSON. It implements
// sdktrace.SpanExporter and is safe for concurrent use. It connects
// lazily: a collector that is down costs failed exports, never a failed
// New.
type Exporter struct {
	url       string
	header    http.Header
	timeout   time.Duration
	gzip      bool
	client    *http.Client
	ownClient bool

	// retry gives the jittered exponential backoff between attempts; a
	// Retry-After can only make a wait longer. Tests shrink it.
	retry backoff.Policy

	zpool sync.Pool // *gzip.Writer, reused across exports

	closed   atomic.Bool
	done     chan struct{} // closed by Shutdown; ends retry waits
	shutOnce sync.Once
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// StatusError is a collector's answer other than 2xx.
type StatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body, at most 200 bytes, with
	// control characters replaced by spaces.
	Body string
}

// Error names the status and quotes the start of the body.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("collector answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// retryable reports whether the OTLP/HTTP specification has the status
// retried: 429, 502, 503 and 504. Every other failure status is final.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// New returns an exporter for opts. It checks the options but does not
// connect.
func New(opts Options) (*Exporter, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("traceexport: the URL must be an http:// or https:// URL with a host, got %q", redactURL(opts.URL))
	}
	e := &Exporter{
		url:     u.String(),
		header:  make(http.Header, len(opts.Headers)+3),
		timeout: opts.Timeout,
		client:  opts.Client,
		retry:   backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second},
		done:    make(chan struct{}),
	}
	switch {
	case e.timeout == 0:
		e.timeout = DefaultTimeout
	case e.timeout < 0:
		return nil, fmt.Errorf("traceexport: the timeout must not be negative, got %v", opts.Timeout)
	}
	switch strings.ToLower(opts.Compression) {
	case "", "none":
	case "gzip":
		e.gzip = true
	default:
		return nil, fmt.Errorf("traceexport: unknown compression %q, want gzip or none", opts.Compression)
	}
	for k, v := range opts.Headers {
		if !validHeaderName(k) {
			// Not quoted: a malformed name may hold a value.
			return nil, errors.New("traceexport: a header name is not a valid HTTP token")
		}
		if !validHeaderValue(v) {
			return nil, fmt.Errorf("traceexport: the value of header %q holds a control character", k)
		}
		e.header.Set(k, v)
	}
	if e.header.Get("User-Agent") == "" {
		e.header.Set("User-Agent", "tollgate-traceexport")
	}
	// The encoding is not the caller's choice.
	e.header.Set("Content-Type", "application/json")
	e.header.Del("Content-Encoding")
	if e.gzip {
		e.header.Set("Content-Encoding", "gzip")
	}
	if e.client == nil {
		e.client = newClient()
		e.ownClient = true
	}
	return e, nil
}

// newClient returns a client with a transport of its own, so that
// Shutdown can close its idle connections without touching anyone else's.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// ExportSpans sends spans in one POST, retrying a 429, 502, 503 or 504
// answer or a network error with backoff until the collector accepts
// them, answers with another status, ctx ends or the exporter's Timeout
// passes. Zero spans send nothing. After Shutdown it returns ErrShutdown.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.closed.Load() {
		return ErrShutdown
	}
	if len(spans) == 0 {
		return nil
	}
	body, err := e.encode(spans)
	if err != nil {
		return fmt.Errorf("traceexport: encoding %d spans: %w", len(spans), err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.timeout,
		fmt.Errorf("%w (the export timeout of %v)", context.DeadlineExceeded, e.timeout))
	defer cancel()
	// A connection this export used goes back to the idle pool after a
	// concurrent Shutdown closed that pool; close it too.
	defer func() {
		if e.ownClient && e.closed.Load() {
			e.client.CloseIdleConnections()
		}
	}()
	var last error // the failure that led to this attempt
	for attempt := 1; ; attempt++ {
		wait, err := e.send(ctx, body)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil && last != nil:
			// Time ran out during a retry: the failure that made it is the news.
			return e.exportError(len(spans), attempt, last, context.Cause(ctx))
		case wait < 0:
			return e.exportError(len(spans), attempt, err, nil)
		}
		wait = max(wait, e.retry.Delay(attempt-1, nil))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return e.exportError(len(spans), attempt, err, fmt.Errorf(
				"no retry: the next attempt, in %v, would start after the export deadline: %w",
				wait.Round(time.Millisecond), context.DeadlineExceeded))
		}
		if werr := e.sleep(ctx, wait); werr != nil {
			return e.exportError(len(spans), attempt, err, werr)
		}
		last = err
	}
}

// exportError describes a failed export of n spans: the last attempt's
// error and, when not nil, why there was no further attempt.
func (e *Exporter) exportError(n, attempt int, err, reason error) error {
	if reason == nil {
		return fmt.Errorf("traceexport: exporting %d spans to %s (attempt %d): %w", n, redactURL(e.url), attempt, err)
	}
	return fmt.Errorf("traceexport: exporting %d spans to %s (attempt %d): %w; %w", n, redactURL(e.url), attempt, err, reason)
}

// encode returns the request body for spans, compressed when configured.
func (e *Exporter) encode(spans []sdktrace.ReadOnlySpan) ([]byte, error) {
	raw := appendRequest(make([]byte, 0, 512*len(spans)), spans)
	if !e.gzip {
		return raw, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) / 4)
	// BestSpeed: span JSON compresses well at any level, and the faster
	// levels keep much smaller state.
	zw, _ := e.zpool.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	} else {
		zw.Reset(&buf)
	}
	defer func() {
		zw.Reset(io.Discard) // let go of buf
		e.zpool.Put(zw)
	}()
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}

// send makes one attempt. It returns nil on a 2xx answer. On failure,
// wait is the least time to wait before a retry (the answer's
// Retry-After, else 0), or negative when the failure is final.
func (e *Exporter) send(ctx context.Context, body []byte) (wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("building the request: %w", err)
	}
	req.Header = e.header.Clone()
	resp, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("sending: %w", context.Cause(ctx))
		}
		return 0, fmt.Errorf("sending: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// A partial_success in the body is not retried and not an error
		// the SDK could act on. Reading a little lets the connection be
		// reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodySnippet))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	serr := &StatusError{StatusCode: resp.StatusCode, Body: cleanSnippet(snippet)}
	if !retryable(resp.StatusCode) {
		return -1, serr
	}
	return retryAfter(resp.Header.Get("Retry-After"), time.Now()), serr
}

// sleep waits for d, or until ctx ends or the exporter shuts down.
func (e *Exporter) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		select {
		case <-e.done:
			return ErrShutdown
		default:
			return nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-e.done:
		return ErrShutdown
	}
}

// Shutdown stops the exporter: later ExportSpans calls return ErrShutdown,
// retry waits in progress end, and the idle connections of the exporter's
// own client are closed. It is idempotent and does not block, so ctx is
// unused.
func (e *Exporter) Shutdown(context.Context) error {
	e.shutOnce.Do(func() {
		e.closed.Store(true)
		close(e.done)
		if e.ownClient {
			e.client.CloseIdleConnections()
		}
	})
	return nil
}

// maxBodySnippet is how much of an error answer's body goes into the
// error.
const maxBodySnippet = 200

// cleanSnippet makes the start of a response body fit for an error
// message: valid UTF-8, control characters as spaces, trimmed.
func cleanSnippet(b []byte) string {
	s := string(b)
	if len(b) == maxBodySnippet {
		// Drop a rune the limit may have cut in two.
		for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
			r, size := utf8.DecodeLastRuneInString(s)
			if r != utf8.RuneError || size != 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// retryAfter parses a Retry-After header, delay-seconds or an HTTP date,
// into a wait from now. An absent or malformed header, or a date in the
// past, is 0.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(time.Hour/time.Second) {
			return time.Hour // longer than any export deadline either way
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// redactURL returns raw fit for errors: any password hidden and any
// query or fragment, where some services put tokens, cut off. A URL that
// does not parse is not shown at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
		return u.Redacted() + "?..."
	}
	return u.Redacted()
}

// validHeaderName reports whether k is an HTTP token (RFC 9110).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v has no control character other than
// a horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
