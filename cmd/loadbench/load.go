package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// target is one server under test.
type target struct {
	name string
	// url is the chat completions URL.
	url string
	// pid is the process whose CPU time the target is charged.
	pid int
}

// kind is one request shape.
type kind struct {
	name   string
	stream bool
	body   []byte
}

// Request kinds. Streams ask for the usage chunk themselves, so the three
// targets send identical events (tollgate asks for it upstream anyway).
var (
	kindPlain = kind{name: "non-stream",
		body: []byte(`{"model":"` + benchModel + `","messages":[{"role":"user","content":"Tell me something short."}]}`)}
	kindStream = kind{name: "stream", stream: true,
		body: []byte(`{"model":"` + benchModel + `","messages":[{"role":"user","content":"Tell me something short."}],"stream":true,"stream_options":{"include_usage":true}}`)}
)

// streamEnd is how every complete stream ends.
var streamEnd = []byte("data: [DONE]\n\n")

// streamType starts the Content-Type of an event stream.
const streamType = "text/event-stream"

// Header values shared read-only by every request.
var (
	hdrJSON   = []string{"application/json"}
	hdrStream = []string{streamType}
)

// newClient returns a client with a keep-alive pool for conns connections
// and nothing between it and the loopback server (no proxy, no gzip).
func newClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}}
}

// load is one phase of traffic to one target.
type load struct {
	client  *http.Client
	target  target
	kind    kind
	auth    []string // Authorization header value
	workers int
	// rate is the fixed request rate per second; 0 runs closed loops.
	rate     float64
	duration time.Duration
}

// samples is what one worker measured. Slices are allocated up front.
type samples struct {
	lat, ttfb []time.Duration
	errors    int
	late      int // fixed rate: sends more than 1ms behind schedule
	firstErr  error
}

// lateAfter is how far behind schedule a fixed-rate send counts as late.
const lateAfter = time.Millisecond

// maxRate bounds the requests a closed-loop phase can record, so every loop
// ends by count as well as by time; expectedRate sizes the sample slices
// allocated up front (they grow if a target is faster).
const (
	maxRate      = 200_000
	expectedRate = 50_000
)

// run sends the phase's traffic and returns every worker's samples and
// the phase's wall time. ctx cancels it early.
func (l *load) run(ctx context.Context) ([]samples, time.Duration) {
	// In-flight requests may finish after the phase ends, within a grace.
	reqCtx, cancel := context.WithTimeout(ctx, l.duration+30*time.Second)
	defer cancel()
	out := make([]samples, l.workers)
	per := l.perWorker()
	hint := per
	if l.rate == 0 {
		hint = min(per, int(expectedRate*l.duration.Seconds())/l.workers+64)
	}
	for i := range out {
		out[i].lat = make([]time.Duration, 0, hint)
		if l.kind.stream {
			out[i].ttfb = make([]time.Duration, 0, hint)
		}
	}
	start := time.Now()
	end := start.Add(l.duration)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			w := worker{load: l, ctx: reqCtx, buf: make([]byte, 32<<10), s: &out[i]}
			if l.rate > 0 {
				w.fixedRate(i, start, end, per)
			} else {
				w.closedLoop(end, per)
			}
		})
	}
	wg.Wait()
	return out, time.Since(start)
}

// perWorker is the most requests one worker may send in the phase.
func (l *load) perWorker() int {
	if l.rate > 0 {
		return int(l.rate*l.duration.Seconds())/l.workers + 1
	}
	return int(maxRate*l.duration.Seconds())/l.workers + 1
}

// worker sends one request at a time.
type worker struct {
	*load
	ctx  context.Context
	buf  []byte
	tail [len("data: [DONE]\n\n")]byte
	s    *samples
}

// closedLoop sends the next request as soon as the previous one ends.
func (w *worker) closedLoop(end time.Time, limit int) {
	for range limit {
		if w.ctx.Err() != nil || !time.Now().Before(end) {
			return
		}
		w.measure()
	}
}

// fixedRate sends request j of worker i at start + (i + j*workers)/rate,
// so all workers together keep the phase's rate.
func (w *worker) fixedRate(i int, start, end time.Time, limit int) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for j := range limit {
		at := start.Add(time.Duration(float64(i+j*w.workers) * float64(time.Second) / w.rate))
		if !at.Before(end) {
			return
		}
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-w.ctx.Done():
				return
			}
		}
		if time.Since(at) > lateAfter {
			w.s.late++
		}
		w.measure()
	}
}

// measure sends one request and records its latency or its error.
func (w *worker) measure() {
	start := time.Now()
	ttfb, err := w.once(start)
	if err != nil {
		w.s.errors++
		if w.s.firstErr == nil {
			w.s.firstErr = fmt.Errorf("%s %s: %w", w.target.name, w.kind.name, err)
		}
		return
	}
	w.s.lat = append(w.s.lat, time.Since(start))
	if w.kind.stream {
		w.s.ttfb = append(w.s.ttfb, ttfb)
	}
}

// once sends one request, reads the whole answer and checks it: 200, a
// JSON body, or for a stream an event stream ending in [DONE]. It returns
// the time from start to the first body byte.
func (w *worker) once(start time.Time) (time.Duration, error) {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.target.url, bytes.NewReader(w.kind.body))
	if err != nil {
		return 0, err
	}
	req.Header["Content-Type"] = hdrJSON
	req.Header["Authorization"] = w.auth
	if w.kind.stream {
		req.Header["Accept"] = hdrStream
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ttfb time.Duration
	var first byte
	total, kept := 0, 0
	for {
		n, err := resp.Body.Read(w.buf)
		if n > 0 {
			if total == 0 {
				ttfb, first = time.Since(start), w.buf[0]
				if resp.StatusCode != http.StatusOK {
					return 0, fmt.Errorf("status %d: %.300s", resp.StatusCode, w.buf[:n])
				}
			}
			total += n
			kept = w.keepTail(w.buf[:n], kept)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reading the answer after %d bytes: %w", total, err)
		}
	}
	return ttfb, w.check(resp, total, first, w.tail[len(w.tail)-kept:])
}

// keepTail keeps the last len(w.tail) bytes read, right-aligned in w.tail.
func (w *worker) keepTail(p []byte, kept int) int {
	t := w.tail[:]
	if len(p) >= len(t) {
		copy(t, p[len(p)-len(t):])
		return len(t)
	}
	copy(t, t[len(p):])
	copy(t[len(t)-len(p):], p)
	return min(kept+len(p), len(t))
}

// check validates a fully read answer.
func (w *worker) check(resp *http.Response, total int, first byte, tail []byte) error {
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d with an empty body", resp.StatusCode)
	case total == 0:
		return errors.New("empty body")
	case w.kind.stream && !strings.HasPrefix(resp.Header.Get("Content-Type"), streamType):
		return fmt.Errorf("stream answered with Content-Type %q", resp.Header.Get("Content-Type"))
	case w.kind.stream && !bytes.Equal(tail, streamEnd):
		return fmt.Errorf("stream ended without data: [DONE] (last bytes %q)", tail)
	case !w.kind.stream && first != '{':
		return errors.New("answer is not a JSON object")
	}
	return nil
}
