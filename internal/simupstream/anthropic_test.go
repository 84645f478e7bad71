package simupstream

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAnthropicDialect checks POST /v1/messages: the same answers as the
// OpenAI dialect, Anthropic's event order, and faults in its shapes.
func TestAnthropicDialect(t *testing.T) {
	t.Parallel()
	sim := New(Options{Profiles: map[string]Profile{
		"m429":    {Fault: Fault{Kind: FaultStatus, Status: 429, RetryAfter: 2 * time.Second}},
		"m529":    {Fault: Fault{Kind: FaultStatus, Status: 529}},
		"no-done": {Fault: Fault{Kind: FaultNoDone}},
		"no-use":  {Fault: Fault{Kind: FaultNoUsage}},
	}})
	body := func(model, extra string) string {
		return `{"model":"` + model + `","max_tokens":100,"messages":[{"role":"user","content":"hello there"}]` + extra + `}`
	}
	tests := []struct {
		name, model, extra string
		status             int
		want               []string // substrings of the body, in order
		not                []string
	}{
		{name: "text", model: "m", status: 200, want: []string{`"type":"text"`, `"stop_reason":"end_turn"`, `"input_tokens"`}},
		{name: "tools", model: "m", extra: `,"tools":[{"name":"look","input_schema":{}}]`, status: 200,
			want: []string{`"type":"tool_use"`, `"id":"toolu_`, `"input":{"query":"hello there"}`, `"stop_reason":"tool_use"`}},
		{name: "stream", model: "m", extra: `,"stream":true`, status: 200, want: []string{"event: message_start", "event: content_block_start",
			"event: ping", "event: content_block_delta", "event: content_block_stop", "event: message_delta", "event: message_stop"}},
		{name: "stream tools", model: "m", extra: `,"stream":true,"tools":[{"name":"look","input_schema":{}}]`, status: 200,
			want: []string{`"content_block":{"id":"toolu_`, `"type":"input_json_delta"`, `"stop_reason":"tool_use"`}},
		{name: "429", model: "m429", status: 429, want: []string{`"type":"error"`, `"type":"rate_limit_error"`}},
		{name: "529", model: "m529", status: 529, want: []string{`"type":"overloaded_error"`}},
		{name: "no message_stop", model: "no-done", extra: `,"stream":true`, status: 200, want: []string{"event: message_delta"}, not: []string{"message_stop"}},
		{name: "no usage", model: "no-use", status: 200, not: []string{"usage"}},
		{name: "missing max_tokens", model: "", status: 400, want: []string{`"invalid_request_error"`}},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, b := c.mustDo(t, "/messages", body(tt.model, tt.extra))
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
				}
				rest := string(b)
				for _, w := range tt.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Fatalf("body lacks %q (in order):\n%s", w, b)
					}
					rest = rest[i+len(w):]
				}
				for _, n := range tt.not {
					if strings.Contains(string(b), n) {
						t.Errorf("body has %q:\n%s", n, b)
					}
				}
				if tt.status == 429 && resp.Header.Get("Retry-After") != "2" {
					t.Errorf("Retry-After %q, want 2", resp.Header.Get("Retry-After"))
				}
			})
		}
	}
	t.Run("same answer as the OpenAI dialect", func(t *testing.T) {
		c := conns(t, sim)[1]
		_, b := c.mustDo(t, "/messages", body("m", ""))
		var msg struct {
			Content []struct{ Text string } `json:"content"`
		}
		if err := json.Unmarshal(b, &msg); err != nil || len(msg.Content) != 1 {
			t.Fatalf("%v: %s", err, b)
		}
		if want := sim.Answer("m", "hello there", 0); msg.Content[0].Text != want {
			t.Errorf("answered %q, want %q", msg.Content[0].Text, want)
		}
		resp, _ := c.mustDo(t, "/messages", `{"model":"m","max_tokens":1,"messages":[]}`)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("empty messages: status %d", resp.StatusCode)
		}
	})
}
