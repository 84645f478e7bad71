package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/store"
)

// tracingConfig has a model whose first attempt fails with a 500 and
// whose retry succeeds. %s is "true" or "false" for tracing.
const tracingConfig = `
database: {path: ":memory:"}
tracing: {enabled: %s, service_name: tollgate-test}
upstream:
  retry: {max_attempts: 2, backoff_initial: 1ms, backoff_max: 5ms}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
channels:
  - name: sim
    provider: simulator
    simulator:
      models:
        flaky: {length: 8, fault: {kind: status, status: 500, times: 1}}
models:
  - {name: flaky, routes: [{channel: sim}]}
`

// TestTracing checks the spans of a retried request: one request span
// joined to the caller's traceparent, with the request's facts, and one
// child span per upstream attempt with its channel, class and phase; no
// attribute holds the key. With tracing off no span is made.
func TestTracing(t *testing.T) {
	t.Parallel()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, stream := range []bool{false, true} {
		for _, enabled := range []bool{true, false} {
			name := "off"
			if enabled {
				name = "on"
			}
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				exp := tracetest.NewInMemoryExporter()
				g := newTracedGateway(t, strings.Replace(tracingConfig, "%s", map[bool]string{true: "true", false: "false"}[enabled], 1), exp)
				extra := ""
				if stream {
					extra = `"stream":true`
				}
				resp, _ := g.do(t, http.MethodPost, "/v1/chat/completions", chatBody("flaky", "trace me", extra),
					http.Header{"Traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}})
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				g.srv.Close() // every handler, and so every span, has ended
				spans := exp.GetSpans()
				if !enabled {
					if len(spans) != 0 {
						t.Fatalf("tracing off made %d spans", len(spans))
					}
					return
				}
				var req tracetest.SpanStub
				var attempts []tracetest.SpanStub
				for _, s := range spans {
					for _, kv := range s.Attributes {
						if strings.Contains(kv.Value.Emit(), g.key) {
							t.Errorf("span %s attribute %s holds the key", s.Name, kv.Key)
						}
					}
					switch s.Name {
					case "tollgate.request":
						req = s
					case "tollgate.attempt":
						attempts = append(attempts, s)
					default:
						t.Errorf("unexpected span %q", s.Name)
					}
				}
				if req.Name == "" {
					t.Fatalf("no request span among %d", len(spans))
				}
				if got := req.SpanContext.TraceID().String(); got != traceID {
					t.Errorf("request span trace %s, want the caller's %s", got, traceID)
				}
				want := map[attribute.Key]string{
					"request_id": resp.Header.Get("X-Request-Id"), "model": "flaky", "channel": "sim",
					"stream": map[bool]string{true: "true", false: "false"}[stream], "status": "200", "attempts": "2",
				}
				checkAttrs(t, "request", req.Attributes, want)
				if len(attempts) != 2 {
					t.Fatalf("%d attempt spans, want 2", len(attempts))
				}
				for i, a := range attempts {
					if a.Parent.SpanID() != req.SpanContext.SpanID() {
						t.Errorf("attempt span %d is not a child of the request span", i)
					}
					if a.StartTime.Before(req.StartTime) || a.EndTime.After(req.EndTime.Add(time.Millisecond)) {
						t.Errorf("attempt span %d [%v, %v] outside the request [%v, %v]", i, a.StartTime, a.EndTime, req.StartTime, req.EndTime)
					}
				}
				checkAttrs(t, "attempt 1", attempts[0].Attributes, map[attribute.Key]string{"attempt": "1", "channel": "sim", "class": "server_error", "phase": "response_header", "status": "500"})
				checkAttrs(t, "attempt 2", attempts[1].Attributes, map[attribute.Key]string{"attempt": "2", "channel": "sim", "class": "", "status": "200"})
			})
		}
	}
}

func checkAttrs(t *testing.T, what string, attrs []attribute.KeyValue, want map[attribute.Key]string) {
	t.Helper()
	got := map[attribute.Key]string{}
	for _, kv := range attrs {
		got[kv.Key] = kv.Value.Emit()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s span %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// newTracedGateway is newGateway with spans going to exp.
func newTracedGateway(t *testing.T, cfg string, exp *tracetest.InMemoryExporter) *gateway {
	t.Helper()
	c, err := config.Parse([]byte(cfg), t.Name(), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(t.Context(), c, app.Options{Version: "test", TraceExporter: exp})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	g := &gateway{app: a, srv: httptest.NewServer(a.Handler)}
	t.Cleanup(func() {
		g.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("closing the app: %v", err)
		}
	})
	g.key = g.newKey(t, store.Key{})
	return g
}

// TestTracingExportsOTLPJSON runs the real exporter: with tracing on and
// the endpoint set to an httptest collector, closing the app flushes the
// batched spans there as OTLP JSON, with the service name and the
// request span.
func TestTracingExportsOTLPJSON(t *testing.T) {
	t.Parallel()
	bodies := make(chan []byte, 16)
	coll := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("collector reading the body: %v", err)
		}
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("collector got %s with Content-Type %q", r.URL.Path, r.Header.Get("Content-Type"))
		}
		bodies <- body
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(coll.Close)
	cfg := strings.Replace(tracingConfig, "{enabled: %s, service_name: tollgate-test}",
		`{enabled: true, service_name: tollgate-test, endpoint: "`+coll.URL+`"}`, 1)
	g := newGateway(t, cfg)
	resp, _ := g.do(t, http.MethodPost, "/v1/chat/completions", chatBody("flaky", "trace me", ""), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	g.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.app.Close(ctx); err != nil {
		t.Fatalf("closing the app: %v", err)
	}
	close(bodies)
	names := map[string]int{}
	service := ""
	for body := range bodies {
		var req struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []struct {
						Key   string
						Value struct{ StringValue string }
					}
				}
				ScopeSpans []struct {
					Scope struct{ Name string }
					Spans []struct {
						TraceID, SpanID, Name string
					}
				}
			}
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("collector body %s: %v", body, err)
		}
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.Attributes {
				if kv.Key == "service.name" {
					service = kv.Value.StringValue
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if len(s.TraceID) != 32 || len(s.SpanID) != 16 {
						t.Errorf("span %s ids %q %q are not hex", s.Name, s.TraceID, s.SpanID)
					}
					names[s.Name]++
				}
			}
		}
	}
	if service != "tollgate-test" {
		t.Errorf("service.name %q, want tollgate-test", service)
	}
	if names["tollgate.request"] != 1 || names["tollgate.attempt"] != 2 {
		t.Errorf("spans exported %v, want one request and two attempts", names)
	}
}
