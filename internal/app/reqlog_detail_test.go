package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/logview"
	"github.com/tollgate/tollgate/internal/simupstream"
	"github.com/tollgate/tollgate/internal/store"
)

// TestRequestLogDetail checks the request log's detail fields and the
// attempt sub-rows for a success, a stream and a failing upstream.
func TestRequestLogDetail(t *testing.T) {
	g := newTestGateway(t)
	tests := []struct {
		name, body     string
		stream         bool
		wantStatus     int
		wantFinish     string
		wantTimeline   int
		wantClass      string
		wantUpstreamID bool
	}{
		{"non-stream success", chatBody("sim-chat", "hello", ""), false, 200, "stop", 1, "", true},
		{"stream success", chatBody("sim-chat", "hello", `"stream":true`), true, 200, "stop", 1, "", true},
		{"upstream 500", chatBody("sim-500", "hello", ""), false, 502, "", 1, "server_error", false},
	}
	ids := make([]string, len(tests))
	sizes := make([]int, len(tests))
	for i, tt := range tests {
		resp, body := g.do(t, http.MethodPost, "/v1/chat/completions", tt.body, nil)
		if resp.StatusCode != tt.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", tt.name, resp.StatusCode, tt.wantStatus, body)
		}
		ids[i], sizes[i] = resp.Header.Get("X-Request-Id"), len(body)
	}
	rows := g.requestLogs(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := rowByID(t, rows, ids[i])
			if row.RequestBytes != int64(len(tt.body)) || row.ResponseBytes != int64(sizes[i]) {
				t.Errorf("sizes = %d/%d, want %d/%d", row.RequestBytes, row.ResponseBytes, len(tt.body), sizes[i])
			}
			if row.FinishReason != tt.wantFinish && !(tt.wantFinish == "stop" && row.FinishReason == "length") {
				t.Errorf("FinishReason = %q, want %q", row.FinishReason, tt.wantFinish)
			}
			if (row.UpstreamRequestID != "") != tt.wantUpstreamID {
				t.Errorf("UpstreamRequestID = %q", row.UpstreamRequestID)
			}
			if tt.stream && (row.TTFT <= 0 || row.TTFT < row.TTFB || row.TTFT > row.Duration) {
				t.Errorf("TTFT = %v (TTFB %v, duration %v), want within the request after the first byte", row.TTFT, row.TTFB, row.Duration)
			}
			if !tt.stream && row.TTFT != 0 {
				t.Errorf("TTFT = %v for a non-stream request, want 0", row.TTFT)
			}
			stored, err := g.app.Store.ListAttempts(t.Context(), ids[i])
			if err == nil && tt.wantClass == "" && len(stored) != 0 {
				t.Errorf("a single successful attempt was stored as %d sub-rows; the row alone describes it", len(stored))
			}
			attempts := logview.Timeline(row, stored)
			if err != nil || len(attempts) != tt.wantTimeline {
				t.Fatalf("ListAttempts = %+v, %v; want %d", attempts, err, tt.wantTimeline)
			}
			a := attempts[0]
			if a.Channel != "sim" || a.Class != tt.wantClass || a.Started.IsZero() || a.Duration < a.TTFB {
				t.Errorf("attempt = %+v", a)
			}
			if tt.wantClass == "" && a.Status != 200 || tt.wantClass != "" && (a.Status != 500 || a.Error == "") {
				t.Errorf("attempt status %d error %q", a.Status, a.Error)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsHoldNoSecrets runs requests that succeed, fail upstream and fail
// authentication through a gateway logging JSON at debug level, and checks
// that neither the client's key nor the upstream api_key appears, while
// the stable keys do.
func TestLogsHoldNoSecrets(t *testing.T) {
	const upstreamKey = "sk-upstream-DO-NOT-LOG-0123456789"
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"bad": {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 500}}}})
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)
	cfg := fmt.Sprintf(`
database: {path: ":memory:"}
log: {level: debug, format: json}
upstream: {retry: {max_attempts: 2}}
channels:
  - {name: up, provider: openai, base_url: %s/v1, api_key: %s}
models:
  - {name: good, routes: [{channel: up}]}
  - {name: bad, routes: [{channel: up}]}
`, up.URL, upstreamKey)
	c, err := config.Parse([]byte(cfg), t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(t.Context(), c, app.Options{Logger: logger, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{app: a, srv: httptest.NewServer(a.Handler)}
	t.Cleanup(func() {
		g.srv.Close()
		_ = a.Close(t.Context())
	})
	g.key = g.newKey(t, store.Key{})
	requests := []struct {
		name, key, body string
	}{
		{"success", g.key, chatBody("good", "hi", "")},
		{"stream", g.key, chatBody("good", "hi", `"stream":true`)},
		{"upstream failure", g.key, chatBody("bad", "hi", "")},
		{"unknown key", "sk-tg-unknownSECRETunknownSECRET0000", chatBody("good", "hi", "")},
		{"provider key sent by mistake", upstreamKey, chatBody("good", "hi", "")},
	}
	for _, rq := range requests {
		old := g.key
		g.key = rq.key
		g.do(t, http.MethodPost, "/v1/chat/completions", rq.body, nil)
		g.key = old
	}
	g.requestLogs(t)
	out := buf.String()
	for _, secret := range []string{g.key, upstreamKey, "unknownSECRETunknownSECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain a secret %q:\n%s", secret, out)
		}
	}
	keys := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		for k := range m {
			keys[k] = true
		}
	}
	for _, k := range []string{"request_id", "key_id", "model", "channel", "phase", "attempt"} {
		if !keys[k] {
			t.Errorf("no log line has the key %q:\n%s", k, out)
		}
	}
}
