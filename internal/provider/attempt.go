package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/readall"
)

// errHeaderTimeout is the cancel cause when the response-header phase runs out.
var errHeaderTimeout = errors.New("response header timeout")

// errIdleTimeout is the cancel cause when a stream or body goes silent.
var errIdleTimeout = errors.New("idle timeout")

// Attempt is the HTTP plumbing of one upstream attempt: a context that the
// phase timers cancel with a cause, the effective timeouts, and the
// classification of failures into *Error. Adapters keep their own URLs,
// headers and translation and use an Attempt for the round trip.
//
// Make one per attempt with NewAttempt; it is not safe for concurrent use,
// except Cancel. Like an http.Request, it holds the context it derived
// for the request, since the timers must cancel exactly that context.
type Attempt struct {
	channel  string
	timeouts Timeouts
	ctx      context.Context
	cancel   context.CancelCauseFunc
}

// NewAttempt starts an attempt on channel. The effective timeouts are req
// with zero fields taken from defaults; a Connect bound set in req is
// passed to the transport (see WithConnectTimeout). The caller must call
// Cancel(nil) once the attempt's response is no longer used, unless Send
// failed or the cancel func was handed to a stream that does it on Close.
func NewAttempt(ctx context.Context, channel string, req, defaults Timeouts) *Attempt {
	to := req.Merge(defaults)
	if req.Connect > 0 {
		ctx = WithConnectTimeout(ctx, req.Connect)
	}
	actx, cancel := context.WithCancelCause(ctx)
	return &Attempt{channel: channel, timeouts: to, ctx: actx, cancel: cancel}
}

// Timeouts returns the attempt's effective timeouts.
func (a *Attempt) Timeouts() Timeouts { return a.timeouts }

// Cancel cancels the attempt's context with cause (nil for a plain
// cancel), which releases its connection. It is safe to call more than
// once and from any goroutine; it has the type of a context.CancelCauseFunc.
func (a *Attempt) Cancel(cause error) { a.cancel(cause) }

// NewRequest builds a POST of body to url bound to the attempt's context.
// On failure the attempt is canceled.
func (a *Attempt) NewRequest(url string, body []byte) (*http.Request, error) {
	hreq, err := http.NewRequestWithContext(a.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.cancel(nil)
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	return hreq, nil
}

// Send performs the round trip of hreq (made by NewRequest) with client,
// bounded by the response-header timeout. ctx is the caller's context
// that the attempt was made from. A failure to get a response is an
// *Error for the phase it happened in (connect, response header) or
// KindCanceled when ctx ended, and the attempt is then canceled; on
// success the response, of any status, is returned and its body is the
// caller's to close.
func (a *Attempt) Send(ctx context.Context, client *http.Client, hreq *http.Request) (*http.Response, error) {
	start := time.Now()
	var timer *time.Timer
	if d := a.timeouts.ResponseHeader; d > 0 {
		timer = time.AfterFunc(d, func() { a.cancel(errHeaderTimeout) })
	}
	resp, err := client.Do(hreq)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		perr := a.classify(ctx, err, start)
		a.cancel(nil)
		return nil, perr
	}
	return resp, nil
}

// classify turns a failure to get response headers into an *Error.
func (a *Attempt) classify(ctx context.Context, err error, start time.Time) *Error {
	if errors.Is(context.Cause(a.ctx), errHeaderTimeout) {
		return &Error{Kind: KindTimeout, Phase: PhaseResponseHeader, Channel: a.channel,
			Limit: a.timeouts.ResponseHeader, Elapsed: time.Since(start)}
	}
	if ctx.Err() != nil {
		return canceled(a.channel, PhaseResponseHeader, ctx)
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		kind := KindConnect
		if ce.Timeout() {
			kind = KindTimeout
		}
		return &Error{Kind: kind, Phase: PhaseConnect, Channel: a.channel,
			Message: "could not connect to the upstream", Limit: a.timeouts.Connect, Elapsed: time.Since(start), Err: ce.Err}
	}
	return &Error{Kind: KindNetwork, Phase: PhaseResponseHeader, Channel: a.channel,
		Message: "connection failed before the upstream answered", Err: err}
}

// maxPresize bounds the buffer ReadBody allocates up front from a
// response's Content-Length.
const maxPresize = 1 << 20

// ReadBody reads and closes resp's body (a non-stream answer), the whole
// read bounded by the idle timeout, into a buffer sized by its
// Content-Length when known. ctx is the caller's context that the attempt
// was made from. A failure is an *Error of PhaseBody: KindTimeout,
// KindCanceled when ctx ended, or KindNetwork. ReadBody does not cancel
// the attempt.
func (a *Attempt) ReadBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	body := resp.Body
	defer body.Close()
	idle := a.timeouts.Idle
	if idle > 0 {
		timer := time.AfterFunc(idle, func() { a.cancel(errIdleTimeout) })
		defer timer.Stop()
	}
	start := time.Now()
	size := 512
	if n := resp.ContentLength; n > 0 {
		size = int(min(n, maxPresize)) + 1 // +1: the read that sees io.EOF
	}
	data, err := readall.Into(body, make([]byte, 0, size))
	switch {
	case err == nil:
		return data, nil
	case errors.Is(context.Cause(a.ctx), errIdleTimeout):
		return nil, &Error{Kind: KindTimeout, Phase: PhaseBody, Channel: a.channel,
			Limit: idle, Elapsed: time.Since(start), Err: err}
	case ctx.Err() != nil:
		return nil, canceled(a.channel, PhaseBody, ctx)
	}
	return nil, &Error{Kind: KindNetwork, Phase: PhaseBody, Channel: a.channel,
		Message: "connection failed while reading the answer", Err: err}
}

// canceled is the error of an attempt abandoned because ctx ended.
func canceled(channel string, phase Phase, ctx context.Context) *Error {
	return &Error{Kind: KindCanceled, Phase: phase, Channel: channel, Err: context.Cause(ctx)}
}

// IsEventStream reports whether the Content-Type ct is text/event-stream.
func IsEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// errDrainTimeout is the cancel cause when the rest of a finished stream's
// body did not arrive within drainWait.
var errDrainTimeout = errors.New("the body did not end after the stream's end marker")

// Bounds of DrainBody. A server sends the end of its body right after the
// end marker, so it arrives within a moment even from far away; the wait
// only bounds an upstream that keeps the body open.
const (
	drainWait     = 20 * time.Millisecond
	maxDrainBytes = 64 << 10
)

// DrainBody reads what is left of a stream's body once its end marker was
// read (normally nothing but the end of the chunked body, which may still
// be on its way), so that closing it keeps the connection for the next
// request: net/http and h1transport pool only a connection whose body was
// read to its end. It reads at most 64 KiB and waits at most 20ms, then
// gives up by canceling the attempt through cancel; the caller closes the
// body after it. Call it only after the end marker: before it the rest of
// a stream is an answer nobody reads.
func DrainBody(body io.Reader, cancel context.CancelCauseFunc) {
	t := time.AfterFunc(drainWait, func() { cancel(errDrainTimeout) })
	defer t.Stop()
	_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
}
