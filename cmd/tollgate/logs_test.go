package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/logview"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// seedLogs writes two request log rows, one with a two-attempt timeline,
// into a new database and returns its path.
func seedLogs(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "t.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	rows := []store.RequestLog{
		{RequestID: "req_old", Time: now.Add(-3 * time.Hour), KeyID: "key_a", KeyMasked: "sk-tg-...aaaa", ModelRequested: "gpt-4o",
			Channel: "primary", Status: 200, PromptTokens: 7, CompletionTokens: 3, CostMicros: 250_000, Charged: true, Attempts: 1,
			RequestBody:  `{"model":"gpt-4o","messages":[{"role":"user","content":"stored prompt"}]}`,
			ResponseBody: "stored answer\nsecond line", ResponseBodyTruncated: true},
		{RequestID: "req_new", Time: now.Add(-time.Minute), KeyID: "key_b", KeyMasked: "sk-tg-...bbbb", ModelRequested: "claude",
			Channel: "backup", Status: 504, ErrorType: "timeout", FailedPhase: "first_token", Attempts: 2, Stream: true,
			ErrorMessage: "Timed out in the first_token phase", UpstreamRequestID: "up-123",
			Timeline: []store.Attempt{
				{N: 1, Channel: "primary", Model: "claude", Class: "timeout", Phase: "first_token", Error: "timed out waiting",
					RetryReason: "failover after timeout", Started: now.Add(-time.Minute), Duration: time.Second},
				{N: 2, Channel: "backup", Model: "claude", Class: "timeout", Phase: "first_token", Started: now.Add(-time.Minute + time.Second)},
			}},
	}
	if err := st.InsertRequestLogs(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestLogsCommands(t *testing.T) {
	db := seedLogs(t)
	tests := []struct {
		name    string
		args    []string
		wantIn  []string
		wantOut []string
	}{
		{"table newest first", []string{"logs", "--db", db}, []string{"REQUEST ID", "req_new", "req_old", "sk-tg-...bbbb"}, nil},
		{"filter status", []string{"logs", "--db", db, "--status", "504"}, []string{"req_new", "first_token"}, []string{"req_old"}},
		{"filter error type", []string{"logs", "--db", db, "--error-type", "timeout"}, []string{"req_new"}, []string{"req_old"}},
		{"filter since", []string{"logs", "--db", db, "--since", "1h"}, []string{"req_new"}, []string{"req_old"}},
		{"filter until", []string{"logs", "--db", db, "--until", "1h"}, []string{"req_old"}, []string{"req_new"}},
		{"filter key and model", []string{"logs", "--db", db, "--key", "key_a", "--model", "gpt-4o"}, []string{"req_old"}, []string{"req_new"}},
		{"filter request id", []string{"logs", "--db", db, "--request-id", "req_old"}, []string{"req_old"}, []string{"req_new"}},
		{"limit", []string{"logs", "--db", db, "--limit", "1"}, []string{"req_new"}, []string{"req_old"}},
		{"nothing matches", []string{"logs", "--db", db, "--status", "418"}, []string{"No matching requests."}, nil},
		{"show timeline", []string{"logs", "show", "req_new", "--db", db},
			[]string{"Upstream id:", "up-123", "Attempts (2):", "failover after timeout", "#1 error: timed out waiting", "backup"},
			[]string{"Bodies", "log_bodies"}},
		{"show stored bodies", []string{"logs", "show", "req_old", "--db", db},
			[]string{"stored because the key has log_bodies on", "  Request:\n", `"content":"stored prompt"`,
				"Response (truncated at request_log.max_body_bytes):", "    stored answer\n    second line"}, nil},
		{"list leaves bodies out", []string{"logs", "--db", db}, []string{"req_old"}, []string{"stored prompt", "stored answer"}},
		{"usage by key", []string{"usage", "--db", db, "--by", "key"}, []string{"KEY", "key_a", "0.25", "key_b", "TOTAL"}, nil},
		{"usage by day since", []string{"usage", "--db", db, "--by", "day", "--since", "1h"}, []string{"DAY", "TOTAL"}, []string{"0.25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, tt.args...)
			for _, s := range tt.wantIn {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.wantOut {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestLogsJSON(t *testing.T) {
	db := seedLogs(t)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "logs", "--db", db, "--json")), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("logs --json: %v, %d rows", err, len(rows))
	}
	if rows[0]["request_id"] != "req_new" || rows[0]["upstream_request_id"] != "up-123" || rows[1]["cost"] != "0.25" {
		t.Errorf("logs --json rows = %v", rows)
	}
	var detail struct {
		RequestID string           `json:"request_id"`
		Timeline  []map[string]any `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "logs", "show", "--db", db, "--json", "req_new")), &detail); err != nil {
		t.Fatal(err)
	}
	if detail.RequestID != "req_new" || len(detail.Timeline) != 2 || detail.Timeline[0]["retry_reason"] != "failover after timeout" {
		t.Errorf("logs show --json = %+v", detail)
	}
	var withBodies struct {
		Bodies *logview.Bodies `json:"bodies"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "logs", "show", "--db", db, "--json", "req_old")), &withBodies); err != nil {
		t.Fatal(err)
	}
	if b := withBodies.Bodies; b == nil || !strings.Contains(b.Request, "stored prompt") || b.Response != "stored answer\nsecond line" ||
		b.RequestTruncated || !b.ResponseTruncated {
		t.Errorf("logs show --json bodies = %+v", b)
	}
	if strings.Contains(mustRun(t, "logs", "show", "--db", db, "--json", "req_new"), `"bodies"`) {
		t.Error(`logs show --json of a request without bodies has a "bodies" field`)
	}
	var usage []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "usage", "--db", db, "--by", "model", "--json")), &usage); err != nil || len(usage) != 2 {
		t.Fatalf("usage --json: %v, %v", err, usage)
	}
	if usage[1]["value"] != "gpt-4o" || usage[1]["prompt_tokens"] != float64(7) || usage[1]["cost"] != "0.25" {
		t.Errorf("usage --json = %v", usage)
	}
}

func TestLogsUsageErrors(t *testing.T) {
	db := seedLogs(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		code    int
	}{
		{"bad since", []string{"logs", "--db", db, "--since", "soon"}, "since", exitUsage},
		{"bad status", []string{"logs", "--db", db, "--status", "x"}, "status wants", exitUsage},
		{"stray argument", []string{"logs", "--db", db, "req_new"}, "logs show req_new", exitUsage},
		{"show without id", []string{"logs", "show", "--db", db}, "exactly one request id", exitUsage},
		{"show unknown id", []string{"logs", "show", "--db", db, "req_nobody"}, "no request req_nobody", exitError},
		{"usage bad by", []string{"usage", "--db", db, "--by", "owner"}, "by wants key, model, group or day", exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.wantErr)
			}
		})
	}
}
