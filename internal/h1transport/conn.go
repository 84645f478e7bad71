package h1transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Buffer sizes of a connection, as net/http uses.
const (
	readBufferSize  = 4 << 10
	writeBufferSize = 4 << 10
)

// aLongTimeAgo is a deadline that makes pending and later I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one keep-alive connection. It is used by one round trip at a
// time: the pool hands it out, and the response body hands it back.
type conn struct {
	t    *Transport
	addr string
	nc   net.Conn
	in   headerLimitReader // nc's reads, bounded while a response header is read
	out  countingWriter    // nc's writes, counted per request
	br   *bufio.Reader
	bw   *bufio.Writer
	// idleTimer expires the connection while it is pooled; set the first
	// time it is pooled, guarded by t.mu.
	idleTimer *time.Timer
	peeker    *peeker // checks a pooled connection; nil where unavailable
}

func newConn(t *Transport, addr string, nc net.Conn) *conn {
	c := &conn{t: t, addr: addr, nc: nc}
	c.in.nc, c.out.nc = nc, nc
	c.br = bufio.NewReaderSize(&c.in, readBufferSize)
	c.bw = bufio.NewWriterSize(&c.out, writeBufferSize)
	newPeeker(c)
	return c
}

// abort makes the connection's pending and later I/O fail at once; it
// runs when the request's context ends.
func (c *conn) abort() { _ = c.nc.SetDeadline(aLongTimeAgo) }

// roundTrip writes req with reqBody (which it closes) and reads the
// response header. On failure the connection is closed; an error before
// any byte of the request went out is a *nothingWrittenError.
func (c *conn) roundTrip(ctx context.Context, req *http.Request, reqBody io.ReadCloser) (*http.Response, error) {
	stop := context.AfterFunc(ctx, c.abort)
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = c.nc.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	c.out.n = 0
	err := writeRequest(c.bw, req, reqBody)
	closeBody(reqBody)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		var he *requestError
		switch {
		case errors.As(err, &he):
			return fail(err)
		case c.out.n == 0:
			return fail(&nothingWrittenError{err: err})
		}
		return fail(fmt.Errorf("h1transport: writing the request: %w", err))
	}
	resp, err := c.readResponse(req)
	if err != nil {
		return fail(err)
	}
	reusable := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		if stop() && reusable {
			c.t.putIdle(c)
		} else {
			_ = c.nc.Close()
		}
		return resp, nil
	}
	resp.Body = &body{c: c, rc: resp.Body, ctx: ctx, stop: stop, reusable: reusable}
	return resp, nil
}

// readResponse reads the final response header, skipping 1xx
// informational responses.
func (c *conn) readResponse(req *http.Request) (*http.Response, error) {
	for {
		c.in.limit(c.t.opts.MaxResponseHeaderBytes)
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			if c.in.exceeded {
				return nil, fmt.Errorf("%w: over %d bytes", ErrHeaderTooLarge, c.t.opts.MaxResponseHeaderBytes)
			}
			if c.in.got == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				return nil, fmt.Errorf("h1transport: the server closed the connection without answering: %w", err)
			}
			return nil, fmt.Errorf("h1transport: reading the response: %w", err)
		}
		c.in.unlimit()
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("h1transport: the server switched protocols, which this transport does not support")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue // 100 Continue, 103 Early Hints: the final answer follows
		}
		return resp, nil
	}
}

// nothingWrittenError is a failure to send a request of which no byte
// reached the connection, so sending it again elsewhere is safe.
type nothingWrittenError struct{ err error }

func (e *nothingWrittenError) Error() string {
	return "h1transport: the connection failed before the request was sent: " + e.err.Error()
}

func (e *nothingWrittenError) Unwrap() error { return e.err }

// headerLimitReader reads from nc, failing once more than the limit was
// read while limited.
type headerLimitReader struct {
	nc       net.Conn
	limited  bool
	remain   int64
	got      int64 // bytes read since limit
	exceeded bool
}

func (r *headerLimitReader) limit(n int64) {
	r.limited, r.remain, r.got, r.exceeded = true, n, 0, false
}

func (r *headerLimitReader) unlimit() { r.limited = false }

func (r *headerLimitReader) Read(p []byte) (int, error) {
	if !r.limited {
		return r.nc.Read(p)
	}
	if r.remain <= 0 {
		r.exceeded = true
		return 0, ErrHeaderTooLarge
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.nc.Read(p)
	r.remain -= int64(n)
	r.got += int64(n)
	return n, err
}

// countingWriter writes to nc and counts the bytes written.
type countingWriter struct {
	nc net.Conn
	n  int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.nc.Write(p)
	w.n += int64(n)
	return n, err
}
