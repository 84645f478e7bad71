package traceexport

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/backoff"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// received is one request as the collector saw it, the body decompressed.
type received struct {
	header http.Header
	body   []byte
}

// collector is an httptest OTLP/HTTP receiver. It checks the method, path
// and content type, decompresses gzip bodies, records every request and
// answers with answer (called with the 1-based request number), or 200
// with an empty ExportTraceServiceResponse when answer is nil.
type collector struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []received
	hit  chan int // gets each request number, when not full
}

func newCollector(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *collector {
	t.Helper()
	c := &collector{t: t, answer: answer, hit: make(chan int, 64)}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		c.t.Errorf("collector got %s %s, want POST /v1/traces", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Errorf("Content-Type %q, want application/json", ct)
	}
	var rd io.Reader = r.Body
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.t.Errorf("gzip body: %v", err)
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		defer zr.Close()
		rd = zr
	default:
		c.t.Errorf("unexpected Content-Encoding %q", ce)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		c.t.Errorf("reading the body: %v", err)
	}
	if !json.Valid(body) {
		c.t.Errorf("body is not valid JSON: %s", body)
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, received{header: r.Header.Clone(), body: body})
	n := len(c.reqs)
	c.mu.Unlock()
	select {
	case c.hit <- n:
	default:
	}
	if c.answer != nil {
		c.answer(n, w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}")
}

// requests returns what the collector has received so far.
func (c *collector) requests() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.reqs...)
}

// url is the collector's traces URL.
func (c *collector) url() string { return c.srv.URL + "/v1/traces" }

// newTestExporter is New with retry waits shrunk to milliseconds, shut
// down at cleanup.
func newTestExporter(t *testing.T, opts Options) *Exporter {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.retry = backoff.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

// decode unmarshals a JSON body into generic values.
func decode(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

// pretty re-encodes v indented, for failure messages.
func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
