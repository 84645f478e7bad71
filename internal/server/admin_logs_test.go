package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

func TestAdminLogs(t *testing.T) {
	e := newAdminEnv(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	rows := []store.RequestLog{
		{RequestID: "req_ok", Time: now.Add(-2 * time.Hour), KeyID: "key_a", ModelRequested: "gpt-4o", Status: 200,
			PromptTokens: 10, CompletionTokens: 5, CostMicros: 1_000_000, Charged: true, FinishReason: "stop",
			RequestBody: `{"messages":"stored-prompt"}`, ResponseBody: "stored-answer"},
		{RequestID: "req_429", Time: now.Add(-time.Minute), KeyID: "key_b", ModelRequested: "gpt-4o", Status: 429,
			ErrorType: "rate_limit_exceeded", Attempts: 2, Timeline: []store.Attempt{
				{N: 1, Channel: "primary", Status: 429, Class: "rate_limit", RetryReason: "failover after rate_limit", Started: now.Add(-time.Minute)},
				{N: 2, Channel: "backup", Status: 429, Class: "rate_limit", Started: now.Add(-time.Minute + time.Second)},
			}},
	}
	if err := e.st.InsertRequestLogs(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		secret     string
		path       string
		wantStatus int
		wantIn     []string
		wantOut    []string
	}{
		{"list newest first", e.admin, "/admin/logs", 200, []string{`"request_id":"req_429"`, `"request_id":"req_ok"`}, nil},
		{"filter by status", e.admin, "/admin/logs?status=429", 200, []string{`"req_429"`}, []string{`"req_ok"`}},
		{"filter by error type", e.admin, "/admin/logs?error_type=rate_limit_exceeded", 200, []string{`"req_429"`}, []string{`"req_ok"`}},
		{"filter by time", e.admin, "/admin/logs?since=1h", 200, []string{`"req_429"`}, []string{`"req_ok"`}},
		{"filter by key", e.admin, "/admin/logs?key=key_a", 200, []string{`"req_ok"`, `"finish_reason":"stop"`}, []string{`"req_429"`, "stored-"}},
		{"stored bodies", e.admin, "/admin/logs/req_ok", 200,
			[]string{`"bodies":{"request":"{\"messages\":\"stored-prompt\"}","request_truncated":false,"response":"stored-answer"`}, nil},
		{"bad filter", e.admin, "/admin/logs?since=soon", 400, []string{`"invalid_filter"`, "since"}, nil},
		{"timeline", e.admin, "/admin/logs/req_429", 200,
			[]string{`"timeline":[{"n":1,"channel":"primary"`, `"retry_reason":"failover after rate_limit"`, `"channel":"backup"`}, []string{`"bodies"`}},
		{"unknown request", e.admin, "/admin/logs/req_nobody", 404, []string{`"request_not_found"`}, nil},
		{"usage by key", e.admin, "/admin/usage?by=key", 200,
			[]string{`"by":"key"`, `"value":"key_a","requests":1,"errors":0,"prompt_tokens":10,"completion_tokens":5,"cached_tokens":0,"cost":"1.00"`,
				`"value":"key_b","requests":1,"errors":1`}, nil},
		{"usage default by model", e.admin, "/admin/usage", 200, []string{`"by":"model"`, `"value":"gpt-4o","requests":2`}, nil},
		{"usage bad dimension", e.admin, "/admin/usage?by=owner", 400, []string{`"invalid_filter"`}, nil},
		{"non-admin key refused", e.user, "/admin/logs", 403, []string{`"admin_required"`}, []string{`"req_ok"`}},
		{"non-admin key refused usage", e.user, "/admin/usage", 403, []string{`"admin_required"`}, nil},
		{"no key", "", "/admin/logs/req_429", 401, nil, []string{`"timeline"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := e.call(t, tt.secret, "GET", tt.path, "")
			if code != tt.wantStatus {
				t.Fatalf("%s: %d, want %d: %s", tt.path, code, tt.wantStatus, body)
			}
			if !json.Valid([]byte(body)) {
				t.Fatalf("body is not JSON: %s", body)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %s: %s", s, body)
				}
			}
			for _, s := range tt.wantOut {
				if strings.Contains(body, s) {
					t.Errorf("body has %s: %s", s, body)
				}
			}
			if code >= 400 && !strings.Contains(body, "req_") {
				t.Errorf("error body does not name the request id: %s", body)
			}
		})
	}
	if code, _, _ := e.call(t, e.admin, "POST", "/admin/logs", "{}"); code != 405 {
		t.Errorf("POST /admin/logs = %d, want 405", code)
	}
}
