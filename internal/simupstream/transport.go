package simupstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
)

// errClosedBody is what the handler's writes report once the client closed
// the response body.
var errClosedBody = errors.New("simupstream: response body closed by the client")

// Transport returns an http.RoundTripper that serves every request with h
// in-process, without any network. It is how tollgate's "simulator"
// provider reaches the Simulator, and it works with any handler.
//
// RoundTrip runs h in its own goroutine and returns the response as soon as
// h commits its header (WriteHeader, the first Write or a Flush) or returns.
// The body streams through a pipe without buffering: every Write reaches
// the client as written. The handler's request context ends when the
// client's request context does, when the client closes the body, or when
// the handler returns. A handler that panics (http.ErrAbortHandler
// included) looks like a dropped connection: before the header RoundTrip
// returns an error, after it the body read fails, and in both cases
// errors.Is(err, syscall.ECONNRESET) holds (mid-body, so does
// errors.Is(err, io.ErrUnexpectedEOF)). Hijacking is not supported, so the
// Simulator's "reset" fault shows up as that error. The request body is
// closed once the handler returns.
func Transport(h http.Handler) http.RoundTripper {
	return &transport{h: h}
}

type transport struct{ h http.Handler }

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip serves req with the handler; see Transport.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cctx := req.Context()
	if err := cctx.Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	hctx, cancel := context.WithCancel(cctx)
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: make(http.Header), pw: pw, ready: make(chan struct{})}
	// A client that gives up sees its context's error on the body at once,
	// and the handler's pending writes fail.
	stop := context.AfterFunc(cctx, func() { _ = pw.CloseWithError(context.Cause(cctx)) })
	go rw.serve(t.h, serverRequest(hctx, req), cancel, stop)
	select {
	case <-rw.ready:
	case <-cctx.Done():
		_ = pr.CloseWithError(errClosedBody)
		return nil, context.Cause(cctx)
	}
	if rw.err != nil {
		return nil, rw.err
	}
	resp := &http.Response{
		Status:        strconv.Itoa(rw.status) + " " + http.StatusText(rw.status),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &pipeBody{pr: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(rw.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	return resp, nil
}

// serverRequest turns a client request into the request a handler sees.
func serverRequest(ctx context.Context, req *http.Request) *http.Request {
	r := req.Clone(ctx)
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.RemoteAddr = "simupstream:0"
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	return r
}

// pipeWriter is the http.ResponseWriter of Transport. Its methods run on
// the handler goroutine; status, sent and err are read by RoundTrip only
// after ready is closed.
type pipeWriter struct {
	header    http.Header
	pw        *io.PipeWriter
	ready     chan struct{} // closed once the header is committed or the handler failed before it
	committed bool
	status    int
	sent      http.Header // header snapshot at commit time
	err       error       // set when the handler failed before committing
}

var (
	_ http.ResponseWriter = (*pipeWriter)(nil)
	_ http.Flusher        = (*pipeWriter)(nil)
)

// Header returns the header map to be sent.
func (rw *pipeWriter) Header() http.Header { return rw.header }

// WriteHeader commits the status and header; 1xx codes are ignored.
func (rw *pipeWriter) WriteHeader(code int) {
	if rw.committed || (code >= 100 && code < 200) {
		return
	}
	rw.status, rw.sent, rw.committed = code, rw.header.Clone(), true
	close(rw.ready)
}

// Write sends p to the client, blocking until the client has read it.
func (rw *pipeWriter) Write(p []byte) (int, error) {
	if !rw.committed {
		if rw.header.Get("Content-Type") == "" && len(p) > 0 {
			rw.header.Set("Content-Type", http.DetectContentType(p))
		}
		rw.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	return rw.pw.Write(p)
}

// Flush commits the header; written data has already reached the client.
func (rw *pipeWriter) Flush() {
	if !rw.committed {
		rw.WriteHeader(http.StatusOK)
	}
}

// serve runs the handler and ends the exchange the way it ended.
func (rw *pipeWriter) serve(h http.Handler, req *http.Request, cancel context.CancelFunc, stop func() bool) {
	defer func() {
		v := recover()
		stop()
		switch {
		case v != nil && !rw.committed:
			rw.err = resetError(v, false)
			close(rw.ready)
			_ = rw.pw.CloseWithError(rw.err)
		case v != nil:
			_ = rw.pw.CloseWithError(resetError(v, true))
		default:
			rw.Flush()
			// A handler that returns because its client left must not
			// look like a complete body.
			_ = rw.pw.CloseWithError(context.Cause(req.Context()))
		}
		cancel()
		_ = req.Body.Close()
	}()
	h.ServeHTTP(rw, req)
}

// resetError describes a handler that panicked as a reset connection.
func resetError(v any, midBody bool) error {
	what := "handler aborted"
	if v != http.ErrAbortHandler {
		what = fmt.Sprintf("handler panicked: %v", v)
	}
	if midBody {
		return fmt.Errorf("simupstream: %s mid-body: %w: connection reset by peer (simulated): %w",
			what, io.ErrUnexpectedEOF, syscall.ECONNRESET)
	}
	return fmt.Errorf("simupstream: %s: connection reset by peer (simulated): %w", what, syscall.ECONNRESET)
}

// pipeBody is the response body of Transport.
type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
}

// Read reads what the handler writes.
func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

// Close ends the exchange: the handler's writes fail and its context ends.
func (b *pipeBody) Close() error {
	_ = b.pr.CloseWithError(errClosedBody)
	b.cancel()
	return nil
}
