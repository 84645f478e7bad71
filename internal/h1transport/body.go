package h1transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// errBodyClosed is what reads of a closed response body return.
var errBodyClosed = errors.New("h1transport: read on closed response body")

// closeWait is how long Close waits for the rest of a response that is
// still arriving (a chunked body's last chunk sent just after the data)
// before it gives the connection up instead of pooling it.
const closeWait = time.Millisecond

// maxCloseDrain bounds what Close reads to keep a connection.
const maxCloseDrain = 64 << 10

// body is a response body that hands its connection back to the pool
// once read to its end. Read and Close may be called from different
// goroutines: a Close during a blocked Read closes the connection, which
// ends the Read.
type body struct {
	c        *conn
	rc       io.Reader // the body as http.ReadResponse framed it
	ctx      context.Context
	stop     func() bool // unregisters the context's abort; false if it ran
	reusable bool        // the response lets the connection be kept

	mu       sync.Mutex
	reading  bool  // a Read is in progress
	finished bool  // the connection was pooled or closed
	err      error // what Read returns once finished
}

// Read reads the body. At its end the connection goes back to the pool
// and Read returns io.EOF. A failure, including the request's context
// ending (reported as its cause), closes the connection.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.finished {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.reading = true
	b.mu.Unlock()

	n, err := b.rc.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading = false
	if b.finished { // closed while reading
		return n, b.err
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.finish(true, io.EOF)
	default:
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		} else {
			err = fmt.Errorf("h1transport: reading the response body: %w", err)
		}
		b.finish(false, err)
	}
	return n, err
}

// Close ends the body. If the rest of the response has already arrived
// (or arrives within closeWait), it is read and the connection pooled;
// otherwise the connection is closed.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return nil
	}
	if b.reading {
		b.finish(false, errBodyClosed)
		return nil
	}
	b.finish(b.ctx.Err() == nil && b.drain(), errBodyClosed)
	return nil
}

// drain reads what is left of the body without waiting longer than
// closeWait, and reports whether it reached the end.
func (b *body) drain() bool {
	if b.c.nc.SetReadDeadline(time.Now().Add(closeWait)) != nil {
		return false
	}
	_, err := io.CopyN(io.Discard, b.rc, maxCloseDrain)
	if !errors.Is(err, io.EOF) {
		return false
	}
	return b.c.nc.SetReadDeadline(time.Time{}) == nil
}

// finish pools the connection when ok and the response allows it, and
// closes it otherwise. Later reads return err.
func (b *body) finish(ok bool, err error) {
	b.finished, b.err = true, err
	if b.stop() && ok && b.reusable {
		b.c.t.putIdle(b.c)
		return
	}
	_ = b.c.nc.Close()
}
