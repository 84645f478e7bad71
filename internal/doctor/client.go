package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"
)

// Phase names a stage of one HTTP exchange; a timeout names the phase it
// hit.
type Phase string

// The phases, in the order an exchange goes through them.
const (
	PhaseConnect    Phase = "connect"          // DNS, TCP, TLS, proxy CONNECT
	PhaseHeaders    Phase = "response headers" // request sent, waiting for the status line
	PhaseFirstToken Phase = "first token"      // stream headers in, no content yet
	PhaseIdle       Phase = "idle"             // stream content flowing; silence between reads
	PhaseBody       Phase = "body"             // non-stream body being read
	PhaseTotal      Phase = "total"            // the whole exchange
)

// TimeoutError is a request that ran out of time in one phase.
type TimeoutError struct {
	// Phase is the phase whose limit ran out; PhaseTotal for the overall
	// timeout, in which case During names the phase it interrupted.
	Phase  Phase
	During Phase
	// Limit is the limit that ran out; Elapsed the time since the request
	// started.
	Limit   time.Duration
	Elapsed time.Duration
}

func (e *TimeoutError) Error() string {
	if e.Phase == PhaseTotal {
		return fmt.Sprintf("total timeout of %v reached during the %s phase (after %v)", e.Limit, e.During, e.Elapsed.Round(time.Millisecond))
	}
	return fmt.Sprintf("timed out in the %s phase: no progress within %v (after %v)", e.Phase, e.Limit, e.Elapsed.Round(time.Millisecond))
}

// Timings are the phase times of one exchange, each measured from the
// start of the request unless noted.
type Timings struct {
	// DNS, Connect and TLS are the durations of name resolution, TCP
	// connect and the TLS handshake of a new connection; zero when the
	// connection was reused or the step did not happen.
	DNS, Connect, TLS time.Duration
	// Reused is whether a kept-alive connection was used.
	Reused bool
	// Headers is the time to the response headers (first response byte).
	Headers time.Duration
	// FirstToken is, for a stream, the time to the first content token.
	FirstToken time.Duration
	// Total is the time until the exchange ended.
	Total time.Duration
}

// client sends the doctor's requests with per-phase timeouts and timings.
type client struct {
	hc    *http.Client
	opts  Options
	now   func() time.Time
	proxy func(*http.Request) (*url.URL, error)
}

func newClient(opts Options, now func() time.Time) (*client, error) {
	proxy := http.ProxyFromEnvironment
	if opts.Proxy != "" {
		u, err := url.Parse(opts.Proxy)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		proxy = http.ProxyURL(u)
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		TLSClientConfig:       opts.TLSConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if opts.TLSConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &client{hc: &http.Client{Transport: tr}, opts: opts, now: now, proxy: proxy}, nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// call is one exchange in progress. Its timers run on other goroutines,
// so the phase and timings are guarded by mu.
type call struct {
	c      *client
	ctx    context.Context
	cancel context.CancelCauseFunc
	start  time.Time
	stream bool

	mu      sync.Mutex
	phase   Phase
	timer   *time.Timer // the current phase's limit
	total   *time.Timer
	timings Timings
	dns     time.Time
	conn    time.Time
	tls     time.Time

	resp *http.Response
	body io.Reader // resp.Body, re-arming the idle limit on every read
}

// send starts an exchange and returns once response headers arrived or
// it failed. Unless it returns a nil call, the caller must call finish;
// on success it reads the body from cl.body.
func (c *client) send(ctx context.Context, method, target string, body []byte, stream bool) (*call, error) {
	cctx, cancel := context.WithCancelCause(ctx)
	cl := &call{c: c, cancel: cancel, start: c.now(), stream: stream}
	cl.total = time.AfterFunc(c.opts.Timeout, func() {
		cl.mu.Lock()
		during := cl.phase
		cl.mu.Unlock()
		cancel(&TimeoutError{Phase: PhaseTotal, During: during, Limit: c.opts.Timeout, Elapsed: c.now().Sub(cl.start)})
	})
	cl.arm(PhaseConnect, c.opts.ConnectTimeout, cl.start)
	cl.ctx = httptrace.WithClientTrace(cctx, cl.trace())
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cl.ctx, method, target, rd)
	if err != nil {
		cl.finish()
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	req.Header.Set("User-Agent", "tollgate-doctor")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	for k, vs := range c.opts.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return cl, cl.explain(err)
	}
	cl.mu.Lock()
	cl.timings.Headers = c.now().Sub(cl.start)
	cl.mu.Unlock()
	cl.resp = resp
	if stream {
		cl.arm(PhaseFirstToken, c.opts.FirstTokenTimeout, cl.start)
	} else {
		cl.arm(PhaseBody, 0, cl.start)
	}
	cl.body = idleReader{cl: cl, r: resp.Body}
	return cl, nil
}

// arm enters phase p, whose limit runs out at from+limit; limit 0 leaves
// only the total timeout.
func (cl *call) arm(p Phase, limit time.Duration, from time.Time) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.phase = p
	if cl.timer != nil {
		cl.timer.Stop()
		cl.timer = nil
	}
	if limit <= 0 {
		return
	}
	wait := from.Add(limit).Sub(cl.c.now())
	cl.timer = time.AfterFunc(wait, func() {
		cl.cancel(&TimeoutError{Phase: p, Limit: limit, Elapsed: cl.c.now().Sub(cl.start)})
	})
}

// firstToken records the first content token and starts the idle limit.
func (cl *call) firstToken() {
	cl.mu.Lock()
	if cl.timings.FirstToken != 0 {
		cl.mu.Unlock()
		return
	}
	cl.timings.FirstToken = cl.c.now().Sub(cl.start)
	cl.mu.Unlock()
	cl.arm(PhaseIdle, cl.c.opts.idleTimeout(), cl.c.now())
}

// explain turns err into a *TimeoutError when a limit caused it.
func (cl *call) explain(err error) error {
	var te *TimeoutError
	if errors.As(context.Cause(cl.ctx), &te) {
		return te
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		cl.mu.Lock()
		p := cl.phase
		cl.mu.Unlock()
		if p == PhaseConnect {
			return &TimeoutError{Phase: PhaseConnect, Limit: cl.c.opts.ConnectTimeout, Elapsed: cl.c.now().Sub(cl.start)}
		}
	}
	return err
}

// finish stops the timers, closes the body and returns the timings.
func (cl *call) finish() Timings {
	cl.mu.Lock()
	if cl.timer != nil {
		cl.timer.Stop()
	}
	cl.total.Stop()
	if cl.timings.Total == 0 {
		cl.timings.Total = cl.c.now().Sub(cl.start)
	}
	t := cl.timings
	cl.mu.Unlock()
	if cl.resp != nil {
		_ = cl.resp.Body.Close()
	}
	cl.cancel(context.Canceled)
	return t
}

func (cl *call) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { cl.mark(&cl.dns) },
		DNSDone:  func(httptrace.DNSDoneInfo) { cl.since(&cl.timings.DNS, cl.dns) },
		ConnectStart: func(string, string) {
			cl.mark(&cl.conn)
		},
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				cl.since(&cl.timings.Connect, cl.conn)
			}
		},
		TLSHandshakeStart: func() { cl.mark(&cl.tls) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				cl.since(&cl.timings.TLS, cl.tls)
			}
		},
		GotConn: func(info httptrace.GotConnInfo) {
			cl.mu.Lock()
			cl.timings.Reused = info.Reused
			cl.mu.Unlock()
			limit := time.Duration(0)
			if cl.stream {
				limit = cl.c.opts.FirstTokenTimeout
			}
			cl.arm(PhaseHeaders, limit, cl.start)
		},
	}
}

// mark records now in *t, keeping the first value.
func (cl *call) mark(t *time.Time) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if t.IsZero() {
		*t = cl.c.now()
	}
}

// since stores the time since from in *d, once.
func (cl *call) since(d *time.Duration, from time.Time) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if *d == 0 && !from.IsZero() {
		*d = cl.c.now().Sub(from)
	}
}

// idleReader re-arms the idle limit whenever bytes arrive once content
// flows, as a proxy's read timeout would.
type idleReader struct {
	cl *call
	r  io.Reader
}

func (ir idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.cl.mu.Lock()
		idle := ir.cl.phase == PhaseIdle
		ir.cl.mu.Unlock()
		if idle {
			ir.cl.arm(PhaseIdle, ir.cl.c.opts.idleTimeout(), ir.cl.c.now())
		}
	}
	if err != nil && err != io.EOF {
		err = ir.cl.explain(err)
	}
	return n, err
}
