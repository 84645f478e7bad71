package server

import (
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/internal/store"
)

// traceRow is a finished request with two attempts, as logRow sees it.
func traceRow(start time.Time) store.RequestLog {
	return store.RequestLog{
		RequestID: "req_0123456789abcdef01234567", ModelRequested: "m", Channel: "c", Status: 200, Attempts: 2,
		Duration: 30 * time.Millisecond,
		Timeline: []store.Attempt{
			{N: 1, Channel: "c", Class: "server_error", Phase: "response_header", Status: 500, Started: start, Duration: 10 * time.Millisecond},
			{N: 2, Channel: "c", Status: 200, Started: start.Add(12 * time.Millisecond), Duration: 15 * time.Millisecond},
		},
	}
}

// TestTraceOffAllocatesNothing pins that tracing costs nothing on the
// request path when it is off.
func TestTraceOffAllocatesNothing(t *testing.T) {
	s := &Server{}
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	rec := &record{start: time.Now()}
	row := traceRow(rec.start)
	allocs := testing.AllocsPerRun(100, func() {
		s.startTrace(r, rec)
		s.endTrace(rec, &row)
	})
	if allocs != 0 {
		t.Errorf("tracing off allocates %v times per request, want 0", allocs)
	}
}

// TestTraceSpans checks the spans of one request: the request span with
// its facts and one child per attempt, timed as measured.
func TestTraceSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := &Server{opts: Options{Tracer: tp.Tracer("test")}}
	rec := &record{start: time.Now(), endpoint: "chat"}
	row := traceRow(rec.start)
	s.startTrace(httptest.NewRequest("POST", "/v1/chat/completions", nil), rec)
	s.endTrace(rec, &row)
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	req := spans[len(spans)-1]
	if req.Name != spanRequest || !req.EndTime.Equal(rec.start.Add(row.Duration)) {
		t.Errorf("last span %s ends %v, want %s ending %v", req.Name, req.EndTime, spanRequest, rec.start.Add(row.Duration))
	}
	for i, a := range spans[:2] {
		want := row.Timeline[i]
		if a.Name != spanAttempt || a.Parent.SpanID() != req.SpanContext.SpanID() ||
			!a.StartTime.Equal(want.Started) || !a.EndTime.Equal(want.Started.Add(want.Duration)) {
			t.Errorf("attempt span %d = %s parent %v [%v, %v], want a child of the request timed as attempt %d",
				i, a.Name, a.Parent.SpanID(), a.StartTime, a.EndTime, want.N)
		}
	}
	if rec.span != nil {
		t.Error("the record still holds the ended span")
	}
}

// BenchmarkTrace measures the per-request cost of tracing: off (the
// default, which must not allocate) and on with every request sampled.
func BenchmarkTrace(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	for _, tc := range []struct {
		name string
		s    *Server
	}{
		{"off", &Server{}},
		{"on", &Server{opts: Options{Tracer: tp.Tracer("bench")}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			rec := &record{start: time.Now()}
			row := traceRow(rec.start)
			b.ReportAllocs()
			for b.Loop() {
				tc.s.startTrace(r, rec)
				tc.s.endTrace(rec, &row)
			}
		})
	}
}
