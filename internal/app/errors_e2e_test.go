package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

// TestErrorsSDK checks every error status tollgate answers before a
// response starts, as the official SDK sees it.
func TestErrorsSDK(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	ctx := t.Context()

	revoked := g.newKey(t, store.Key{Name: "revoked"})
	k, err := g.app.Store.RevokeKey(ctx, "revoked", time.Time{})
	if err != nil || k.RevokedAt.IsZero() {
		t.Fatalf("RevokeKey: %v", err)
	}
	if err := g.app.Keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expired := g.newKey(t, store.Key{ExpiresAt: time.Now().Add(-time.Minute)})
	restricted := g.newKey(t, store.Key{Models: []string{"sim-chat"}})
	unknown, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}

	chat := func(model string, opts ...option.RequestOption) func(context.Context, openai.Client) error {
		return func(ctx context.Context, c openai.Client) error {
			_, err := c.Chat.Completions.New(ctx, chatParams(model, "hello"), opts...)
			return err
		}
	}
	tests := []struct {
		name    string
		key     string // "" uses the gateway's unrestricted key
		noKey   bool
		call    func(context.Context, openai.Client) error
		status  int
		typ     string
		code    string
		msgHas  []string
		headers map[string]string
	}{
		{name: "missing messages", status: 400, typ: "invalid_request_error", code: "invalid_value", msgHas: []string{"messages"},
			call: func(ctx context.Context, c openai.Client) error {
				_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-chat"})
				return err
			}},
		{name: "stream of the wrong type", status: 400, typ: "invalid_request_error", code: "invalid_value", msgHas: []string{"stream"},
			call: chat("sim-chat", option.WithJSONSet("stream", "yes"))},
		{name: "missing key", noKey: true, status: 401, typ: "invalid_request_error", code: "invalid_api_key", msgHas: []string{"didn't provide an API key"},
			call: chat("sim-chat")},
		{name: "unknown key", key: unknown, status: 401, typ: "invalid_request_error", code: "invalid_api_key", msgHas: []string{"Incorrect API key", auth.Last4(unknown)},
			call: chat("sim-chat")},
		{name: "not a tollgate key", key: "sk-proj-0123456789abcdef", status: 401, typ: "invalid_request_error", code: "invalid_api_key", msgHas: []string{"not a tollgate key"},
			call: chat("sim-chat")},
		{name: "revoked key", key: revoked, status: 401, typ: "invalid_request_error", code: "invalid_api_key", msgHas: []string{"revoked"},
			call: chat("sim-chat")},
		{name: "expired key", key: expired, status: 401, typ: "invalid_request_error", code: "invalid_api_key", msgHas: []string{"expired"},
			call: chat("sim-chat")},
		{name: "model not allowed for the key", key: restricted, status: 403, typ: "request_forbidden", code: "model_not_allowed", msgHas: []string{"sim-embed"},
			call: chat("sim-embed")},
		{name: "unknown model", status: 404, typ: "invalid_request_error", code: "model_not_found", msgHas: []string{"`gpt-nope`", "GET /v1/models"},
			call: chat("gpt-nope")},
		{name: "unknown route", status: 404, typ: "invalid_request_error", code: "unknown_url", msgHas: []string{"/v1/assistants"},
			call: func(ctx context.Context, c openai.Client) error {
				return c.Post(ctx, "assistants", map[string]string{"model": "sim-chat"}, nil)
			}},
		{name: "body over max_body_bytes", status: 413, typ: "invalid_request_error", code: "request_too_large", msgHas: []string{"4KiB", "max_body_bytes"},
			call: func(ctx context.Context, c openai.Client) error {
				_, err := c.Chat.Completions.New(ctx, chatParams("sim-chat", strings.Repeat("word ", 1000)))
				return err
			}},
		{name: "upstream connection reset", status: 502, typ: "server_error", code: "upstream_network", msgHas: []string{"channel sim"},
			call: chat("sim-reset")},
		{name: "upstream 500", status: 502, typ: "server_error", msgHas: []string{"channel sim", "500"},
			call: chat("sim-500")},
		{name: "upstream unreachable", status: 502, typ: "server_error", code: "upstream_unreachable", msgHas: []string{"channel dead", "base_url"},
			call: chat("sim-dead")},
		{name: "upstream 503", status: 503, typ: "server_error", code: "overloaded", msgHas: []string{"overloaded"},
			headers: map[string]string{"Retry-After": "3"}, call: chat("sim-503")},
		{name: "response header timeout", status: 504, typ: "server_error", code: "upstream_timeout", msgHas: []string{"response header", "channel strict", "100ms"},
			call: chat("sim-hang")},
		{name: "upstream 429 keeps Retry-After", status: 429, typ: "requests", code: "rate_limit_exceeded", msgHas: []string{"rate limiting"},
			headers: map[string]string{"Retry-After": "2", "Retry-After-Ms": "2000"}, call: chat("sim-429")},
		{name: "stream upstream 429 keeps Retry-After", status: 429, typ: "requests", code: "rate_limit_exceeded",
			headers: map[string]string{"Retry-After": "2"},
			call: func(ctx context.Context, c openai.Client) error {
				s := c.Chat.Completions.NewStreaming(ctx, chatParams("sim-429s", "hi"))
				for s.Next() {
				}
				return s.Err()
			}},
		{name: "stream response header timeout", status: 504, typ: "server_error", code: "upstream_timeout",
			call: func(ctx context.Context, c openai.Client) error {
				s := c.Chat.Completions.NewStreaming(ctx, chatParams("sim-hang", "hi"))
				for s.Next() {
				}
				return s.Err()
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []option.RequestOption
			switch {
			case tt.noKey:
				opts = append(opts, option.WithAPIKey(""))
			case tt.key != "":
				opts = append(opts, option.WithAPIKey(tt.key))
			}
			err := tt.call(t.Context(), g.client(opts...))
			apiErr := wantError(t, err, tt.status, tt.typ, tt.code)
			for _, s := range tt.msgHas {
				if !strings.Contains(apiErr.Message, s) {
					t.Errorf("message %q does not contain %q", apiErr.Message, s)
				}
			}
			if tt.key != "" && strings.Contains(apiErr.Message, tt.key) {
				t.Errorf("message %q repeats the presented key", apiErr.Message)
			}
			for k, v := range tt.headers {
				if got := apiErr.Response.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestErrorsRaw checks the errors an SDK cannot provoke, with net/http.
func TestErrorsRaw(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		allow  string
		// chunked hides the body's length, so only reading it finds the size.
		chunked bool
	}{
		{name: "malformed JSON", method: http.MethodPost, path: "/v1/chat/completions", body: `{"model":"sim-chat",`, status: 400, code: "invalid_json"},
		{name: "body not an object", method: http.MethodPost, path: "/v1/chat/completions", body: `["sim-chat"]`, status: 400, code: "invalid_json"},
		{name: "empty messages", method: http.MethodPost, path: "/v1/chat/completions", body: `{"model":"sim-chat","messages":[]}`, status: 400, code: "invalid_value"},
		{name: "embeddings do not stream", method: http.MethodPost, path: "/v1/embeddings", body: `{"model":"sim-embed","input":"x","stream":true}`, status: 400, code: "invalid_value"},
		{name: "GET on chat completions", method: http.MethodGet, path: "/v1/chat/completions", status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "DELETE on models", method: http.MethodDelete, path: "/v1/models", status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "unknown route", method: http.MethodGet, path: "/v2/things", status: 404, code: "unknown_url"},
		{name: "chunked body over max_body_bytes", method: http.MethodPost, path: "/v1/chat/completions", chunked: true,
			body: chatBody("sim-chat", strings.Repeat("word ", 1000), ""), status: 413, code: "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var resp *http.Response
			var body []byte
			if tt.chunked {
				resp, body = g.doChunked(t, tt.path, tt.body)
			} else {
				resp, body = g.do(t, tt.method, tt.path, tt.body, nil)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			checkEnvelope(t, resp, body)
			if !strings.Contains(string(body), `"code":"`+tt.code+`"`) {
				t.Errorf("body %s, want code %s", body, tt.code)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestTotalTimeout checks upstream.timeouts.total on a request that gets
// no answer at all and on a stream that outlives it: the client gets a
// 504 or an in-band error naming the total phase, and the log blames the
// deadline, not a client that left.
func TestTotalTimeout(t *testing.T) {
	t.Parallel()
	g := newGateway(t, `
database: {path: ":memory:"}
upstream: {timeouts: {total: 250ms}}
channels:
  - name: sim
    provider: simulator
    simulator:
      models:
        sim-hang: {fault: {kind: no_response}}
        sim-slow: {tokens_per_second: 20, length: 100}
models:
  - {name: sim-hang, routes: [{channel: sim}]}
  - {name: sim-slow, routes: [{channel: sim}]}
`)
	client := g.client()
	tests := []struct {
		name   string
		model  string
		stream bool
		status int // logged status
	}{
		{name: "before the answer", model: "sim-hang", status: 504},
		{name: "stream before the first event", model: "sim-hang", stream: true, status: 504},
		{name: "mid-stream", model: "sim-slow", stream: true, status: 200},
	}
	ids := make([]string, len(tests))
	t.Run("requests", func(t *testing.T) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var resp *http.Response
				if !tt.stream {
					_, err := client.Chat.Completions.New(t.Context(), chatParams(tt.model, "hi"))
					apiErr := wantError(t, err, http.StatusGatewayTimeout, "server_error", "timeout")
					if !strings.Contains(apiErr.Message, "total phase") || !strings.Contains(apiErr.Message, "250ms") {
						t.Errorf("message %q does not name the total phase and its limit", apiErr.Message)
					}
					ids[i] = apiErr.Response.Header.Get("X-Request-Id")
					return
				}
				s := client.Chat.Completions.NewStreaming(t.Context(), chatParams(tt.model, "hi"), option.WithResponseInto(&resp))
				n := 0
				for s.Next() {
					n++
				}
				if tt.status != 200 {
					ids[i] = wantError(t, s.Err(), http.StatusGatewayTimeout, "server_error", "timeout").Response.Header.Get("X-Request-Id")
					return
				}
				ids[i] = resp.Header.Get("X-Request-Id")
				if err := s.Err(); err == nil || !strings.Contains(err.Error(), "total phase") || n == 0 {
					t.Fatalf("after %d chunks the stream ended with %v, want content then an in-band total timeout error", n, err)
				}
			})
		}
	})
	rows := g.requestLogs(t)
	for i, tt := range tests {
		if ids[i] == "" {
			continue // already failed above
		}
		if r := rowByID(t, rows, ids[i]); r.Status != tt.status || r.ErrorType != "timeout" {
			t.Errorf("%s: logged %d %q, want %d timeout", tt.name, r.Status, r.ErrorType, tt.status)
		}
	}
}
