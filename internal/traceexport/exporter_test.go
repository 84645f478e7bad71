package traceexport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// oneSpan is a minimal span to export.
func oneSpan() []sdktrace.ReadOnlySpan {
	return []sdktrace.ReadOnlySpan{tracetest.SpanStub{
		Name: "op",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
		}),
		StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0),
	}.Snapshot()}
}

// reply is one scripted collector answer.
type reply struct {
	status     int
	retryAfter string // Retry-After header, when not ""
	body       string
	hangUp     bool // close the connection without answering
}

// script answers request n with replies[n-1], and with 200 past the end.
func script(replies ...reply) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n > len(replies) {
			w.WriteHeader(http.StatusOK)
			return
		}
		r := replies[n-1]
		if r.hangUp {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		if r.retryAfter != "" {
			w.Header().Set("Retry-After", r.retryAfter)
		}
		w.WriteHeader(r.status)
		_, _ = w.Write([]byte(r.body))
	}
}

// TestExportRetries checks which answers are retried: 429, 502, 503, 504
// and a dropped connection are; any other status is final; every 2xx,
// a partial success included, is success.
func TestExportRetries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		replies      []reply
		wantAttempts int
		wantStatus   int // status of the final StatusError, 0 for success
	}{
		{"200", nil, 1, 0},
		{"202 accepted", []reply{{status: http.StatusAccepted}}, 1, 0},
		{"partial success is not retried", []reply{{status: 200, body: `{"partialSuccess":{"rejectedSpans":"1","errorMessage":"x"}}`}}, 1, 0},
		{"503 with Retry-After 0 then 200", []reply{{status: 503, retryAfter: "0"}}, 2, 0},
		{"429 502 504 then 200", []reply{{status: 429}, {status: 502}, {status: 504}}, 4, 0},
		{"429 with a past HTTP date then 200", []reply{{status: 429, retryAfter: "Mon, 02 Jan 2006 15:04:05 GMT"}}, 2, 0},
		{"hang-up then 200", []reply{{hangUp: true}}, 2, 0},
		{"400 not retried", []reply{{status: 400, body: `{"message":"bad span"}`}}, 1, 400},
		{"401 not retried", []reply{{status: 401}}, 1, 401},
		{"413 not retried", []reply{{status: 413}}, 1, 413},
		{"500 not retried", []reply{{status: 500}}, 1, 500},
		{"503 then 400 stops", []reply{{status: 503, retryAfter: "0"}, {status: 400}}, 2, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t, script(tt.replies...))
			exp := newTestExporter(t, Options{URL: c.url()})
			err := exp.ExportSpans(t.Context(), oneSpan())
			if got := len(c.requests()); got != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tt.wantAttempts)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Errorf("ExportSpans: %v", err)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.wantStatus {
				t.Fatalf("ExportSpans error %v, want a StatusError %d", err, tt.wantStatus)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tt.wantStatus)) {
				t.Errorf("error %q does not name the status", err)
			}
		})
	}
}

// TestExportGivesUp checks that retries end with the context or the
// export timeout, without sleeping past them.
func TestExportGivesUp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		reply   reply
		timeout time.Duration // Options.Timeout
		ctxWait time.Duration // caller's deadline, 0 for none
		wantMsg string        // "" to skip
	}{
		{
			name:    "Retry-After beyond the export timeout ends at once",
			reply:   reply{status: 503, retryAfter: "60"},
			timeout: 30 * time.Second,
			wantMsg: "would start after the export deadline",
		},
		{
			name:    "Retry-After beyond the caller's deadline ends at once",
			reply:   reply{status: 429, retryAfter: "60"},
			ctxWait: 20 * time.Second,
			wantMsg: "would start after the export deadline",
		},
		{
			name:    "caller's deadline ends endless 503s",
			reply:   reply{status: 503},
			ctxWait: 50 * time.Millisecond,
		},
		{
			name:    "export timeout ends endless 502s",
			reply:   reply{status: 502},
			timeout: 50 * time.Millisecond,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				script(tt.reply)(1, w, r)
			})
			exp := newTestExporter(t, Options{URL: c.url(), Timeout: tt.timeout})
			ctx := t.Context()
			if tt.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxWait)
				defer cancel()
			}
			start := time.Now()
			err := exp.ExportSpans(ctx, oneSpan())
			if err == nil {
				t.Fatal("ExportSpans succeeded against a failing collector")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want one matching context.DeadlineExceeded", err)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want it to say %q", err, tt.wantMsg)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.reply.status {
				t.Errorf("error %v does not carry the last status %d", err, tt.reply.status)
			}
			// Generous bound: the point is that no 60 s wait happened.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("ExportSpans took %v", d)
			}
		})
	}
}

// TestExportRequest checks what goes on the wire: the configured
// headers, the JSON content type whatever the caller set, gzip when
// asked, and no body at all for zero spans.
func TestExportRequest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		compression string
		spans       []sdktrace.ReadOnlySpan
		wantPosts   int
	}{
		{"plain", "", oneSpan(), 1},
		{"none", "none", oneSpan(), 1},
		{"gzip", "gzip", oneSpan(), 1},
		{"zero spans send nothing", "gzip", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t, nil)
			exp := newTestExporter(t, Options{
				URL:         c.url(),
				Compression: tt.compression,
				Headers:     map[string]string{"Authorization": "Bearer s3cret", "x-tenant": "acme", "Content-Type": "text/plain"},
			})
			if err := exp.ExportSpans(t.Context(), tt.spans); err != nil {
				t.Fatalf("ExportSpans: %v", err)
			}
			reqs := c.requests()
			if len(reqs) != tt.wantPosts {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantPosts)
			}
			if tt.wantPosts == 0 {
				return
			}
			h := reqs[0].header
			for k, want := range map[string]string{
				"Authorization": "Bearer s3cret", "X-Tenant": "acme", "Content-Type": "application/json",
				"Content-Encoding": map[bool]string{true: "gzip"}[tt.compression == "gzip"],
			} {
				if got := h.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			// The collector decompressed the body; it holds the span.
			body := decode(t, reqs[0].body).(map[string]any)
			spans := body["resourceSpans"].([]any)[0].(map[string]any)["scopeSpans"].([]any)[0].(map[string]any)["spans"].([]any)
			if name := spans[0].(map[string]any)["name"]; name != "op" {
				t.Errorf("span name %v, want op", name)
			}
		})
	}
}

// TestExportErrorHidesSecrets checks that a failed export names the
// status and a short piece of the body, never a header value.
func TestExportErrorHidesSecrets(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1000)
	c := newCollector(t, script(reply{status: 401, body: "denied\n" + long}))
	exp := newTestExporter(t, Options{URL: c.url(), Headers: map[string]string{"Authorization": "Bearer s3cret"}})
	err := exp.ExportSpans(t.Context(), oneSpan())
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a StatusError", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows a header value", err)
	}
	if !strings.Contains(err.Error(), "401 Unauthorized: denied x") {
		t.Errorf("error %q does not name the status and the body", err)
	}
	if len(se.Body) > maxBodySnippet || strings.ContainsAny(se.Body, "\n\r") {
		t.Errorf("body snippet %q: %d bytes or a line break", se.Body, len(se.Body))
	}
}

// TestShutdown checks that Shutdown is idempotent, that ExportSpans then
// fails without sending, and that it ends a retry wait in progress.
func TestShutdown(t *testing.T) {
	t.Parallel()
	t.Run("export after shutdown", func(t *testing.T) {
		t.Parallel()
		c := newCollector(t, nil)
		exp := newTestExporter(t, Options{URL: c.url()})
		if err := exp.ExportSpans(t.Context(), oneSpan()); err != nil {
			t.Fatalf("ExportSpans: %v", err)
		}
		for i := range 2 {
			if err := exp.Shutdown(t.Context()); err != nil {
				t.Errorf("Shutdown %d: %v", i+1, err)
			}
		}
		for _, spans := range [][]sdktrace.ReadOnlySpan{oneSpan(), nil} {
			if err := exp.ExportSpans(t.Context(), spans); !errors.Is(err, ErrShutdown) {
				t.Errorf("ExportSpans(%d spans) after Shutdown = %v, want ErrShutdown", len(spans), err)
			}
		}
		if n := len(c.requests()); n != 1 {
			t.Errorf("collector got %d requests, want only the one before Shutdown", n)
		}
	})
	t.Run("shutdown ends a retry wait", func(t *testing.T) {
		t.Parallel()
		c := newCollector(t, script(reply{status: 503, retryAfter: "20"}))
		exp := newTestExporter(t, Options{URL: c.url(), Timeout: time.Minute})
		done := make(chan error, 1)
		go func() { done <- exp.ExportSpans(context.Background(), oneSpan()) }()
		<-c.hit // the first attempt got its 503 (or is about to)
		if err := exp.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrShutdown) {
			t.Errorf("ExportSpans = %v, want ErrShutdown", err)
		}
		if n := len(c.requests()); n != 1 {
			t.Errorf("collector got %d requests, want 1", n)
		}
	})
}

// TestNew checks the options New refuses, and that its errors and
// Options' printed form never show a header value.
func TestNew(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		opts    Options
		wantErr string // "" for success
	}{
		{"minimal", Options{URL: "http://localhost:4318/v1/traces"}, ""},
		{"https, gzip, headers", Options{URL: "https://c.example/v1/traces", Compression: "GZIP", Timeout: time.Second,
			Headers: map[string]string{"Authorization": "Bearer s3cret"}}, ""},
		{"no URL", Options{}, "http:// or https://"},
		{"no scheme", Options{URL: "localhost:4318"}, "http:// or https://"},
		{"other scheme", Options{URL: "grpc://localhost:4317"}, "http:// or https://"},
		{"no host", Options{URL: "http:///v1/traces"}, "http:// or https://"},
		{"password hidden", Options{URL: "ftp://user:s3cret@host/"}, "user:xxxxx@host"},
		{"query hidden", Options{URL: "ftp://host/v1/traces?token=s3cret"}, "ftp://host/v1/traces?..."},
		{"negative timeout", Options{URL: "http://h/", Timeout: -time.Second}, "timeout"},
		{"unknown compression", Options{URL: "http://h/", Compression: "br"}, `"br"`},
		{"bad header name", Options{URL: "http://h/", Headers: map[string]string{"Authorization: Bearer s3cret": "x"}}, "header name"},
		{"header value with a newline", Options{URL: "http://h/", Headers: map[string]string{"Authorization": "s3cret\r\nX: y"}}, "Authorization"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := New(tt.opts)
			if e != nil {
				defer e.Shutdown(context.Background())
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error %v, want one containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a secret", err)
			}
			for _, s := range []string{tt.opts.String(), tt.opts.GoString()} {
				if strings.Contains(s, "s3cret") {
					t.Errorf("Options print as %q, showing a secret", s)
				}
			}
		})
	}
}

// TestRetryAfter checks both forms of the header and the fallbacks.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"3", 3 * time.Second},
		{" 7 ", 7 * time.Second},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{"999999999999", time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		t.Run(tt.header, func(t *testing.T) {
			if got := retryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}
