package app_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/store"
)

// logBodiesConfig caps stored bodies at 1KiB; sim-long answers with far
// more than that.
const logBodiesConfig = `
database: {path: ":memory:"}
log: {level: debug, format: json}
request_log: {flush_interval: 10ms, max_body_bytes: 1KiB}
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {length: 12}
      models:
        sim-long: {length: 600}
models:
  - {name: sim-chat, routes: [{channel: sim}]}
  - {name: sim-long, routes: [{channel: sim}]}
`

// TestLogBodies checks the per-key opt-in: a key with log_bodies on gets
// the request body and the answer stored with its request log row, for
// streams and non-streams, cut at request_log.max_body_bytes; a key
// without it gets neither; and bodies never reach tollgate's own logs or
// its metrics.
func TestLogBodies(t *testing.T) {
	c, err := config.Parse([]byte(logBodiesConfig), t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := app.New(t.Context(), c, app.Options{Version: "test",
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{app: a, srv: httptest.NewServer(a.Handler)}
	t.Cleanup(func() {
		g.srv.Close()
		_ = a.Close(t.Context())
	})
	on := g.newKey(t, store.Key{LogBodies: true})
	off := g.newKey(t, store.Key{})
	sim := g.sim(t, "sim")
	longPrompt := "bodies-long " + strings.Repeat("é数🚀 ", 150) // multi-byte text past the cap

	tests := []struct {
		name, key, model, prompt string
		stream                   bool
		stored                   bool // bodies are stored
		reqCut, respCut          bool
	}{
		{"on, non-stream", on, "sim-chat", "bodies-marker-on-once", false, true, false, false},
		{"on, stream", on, "sim-chat", "bodies-marker-on-stream", true, true, false, false},
		{"off, non-stream", off, "sim-chat", "bodies-marker-off-once", false, false, false, false},
		{"off, stream", off, "sim-chat", "bodies-marker-off-stream", true, false, false, false},
		{"on, long prompt and answer, non-stream", on, "sim-long", longPrompt, false, true, true, true},
		{"on, long prompt and answer, stream", on, "sim-long", longPrompt, true, true, true, true},
	}
	type sent struct{ body, answer string }
	sentBy := map[string]sent{}
	for i, tt := range tests {
		extra := ""
		if tt.stream {
			extra = `"stream":true`
		}
		body := chatBody(tt.model, tt.prompt, extra)
		id := "req-bodies-" + string(rune('a'+i))
		g.key = tt.key
		resp, got := g.do(t, http.MethodPost, "/v1/chat/completions", body, http.Header{"X-Request-Id": {id}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tt.name, resp.StatusCode, got)
		}
		answer := string(got)
		if tt.stream {
			answer = streamText(t, got)
			if want := sim.Answer(tt.model, tt.prompt, 0); answer != want {
				t.Fatalf("%s: the stream assembled %q, want %q", tt.name, answer, want)
			}
		}
		sentBy[id] = sent{body, answer}
	}

	g.srv.Close()
	if err := a.RequestLog().Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	const limit = 1024
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "req-bodies-" + string(rune('a'+i))
			rows, err := a.Store.ListRequestLogs(t.Context(), store.LogFilter{RequestID: id, Bodies: true})
			if err != nil || len(rows) != 1 {
				t.Fatalf("ListRequestLogs(%s) = %d rows, %v; want 1", id, len(rows), err)
			}
			r, s := rows[0], sentBy[id]
			if !tt.stored {
				if r.HasBodies() {
					t.Fatalf("a key without log_bodies has bodies stored: %+v", r)
				}
				return
			}
			checkBody(t, "request", r.RequestBody, r.RequestBodyTruncated, s.body, tt.reqCut, limit)
			checkBody(t, "response", r.ResponseBody, r.ResponseBodyTruncated, s.answer, tt.respCut, limit)
		})
	}

	t.Run("never in logs or metrics", func(t *testing.T) {
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", rec.Code)
		}
		out := map[string]string{"slog": logs.String(), "metrics": rec.Body.String()}
		if !strings.Contains(out["slog"], "req-bodies-a") {
			t.Fatalf("the debug log does not mention the requests, so this check proves nothing:\n%s", out["slog"])
		}
		for where, text := range out {
			for _, s := range []string{"bodies-marker", "bodies-long", sim.Answer("sim-chat", "bodies-marker-on-once", 0)} {
				if strings.Contains(text, s) {
					t.Errorf("%s contains body text %q", where, s)
				}
			}
		}
	})
}

// checkBody compares a stored body with what was sent: equal when not
// cut, else a prefix of it within limit bytes, valid UTF-8.
func checkBody(t *testing.T, what, got string, cut bool, sent string, wantCut bool, limit int) {
	t.Helper()
	if cut != wantCut {
		t.Errorf("%s body truncated = %t, want %t", what, cut, wantCut)
	}
	if !wantCut {
		if got != sent {
			t.Errorf("%s body = %q, want %q", what, got, sent)
		}
		return
	}
	if len(got) > limit || len(got) < limit-utf8.UTFMax || !strings.HasPrefix(sent, got) || !utf8.ValidString(got) {
		t.Errorf("%s body cut to %d bytes (valid UTF-8 %t), want a prefix of the %d sent within %d bytes",
			what, len(got), utf8.ValidString(got), len(sent), limit)
	}
}

// streamText assembles the content deltas of an SSE chat stream.
func streamText(t *testing.T, body []byte) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", data, err)
		}
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String()
}
