package simupstream

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/openai"
)

const toolsJSON = `"tools":[{"type":"function","function":{"name":"search","parameters":{"type":"object"}}},{"type":"function","function":{"name":"lookup"}}]`

func TestChatNonStream(t *testing.T) {
	t.Parallel()
	sim := New(Options{Profiles: map[string]Profile{"short": {Length: 5}}})
	prompt := "tell me about gateways please"
	tests := []struct {
		name       string
		model      string
		extra      string
		wantFinish string
		wantText   string // "" for tool calls
		wantTool   string
	}{
		{"default length", "any", "", "stop", sim.Answer("any", prompt, 0), ""},
		{"profile length", "short", "", "stop", sim.Answer("short", prompt, 0), ""},
		{"clipped by max_tokens", "any", `"max_tokens":3`, "length", sim.Answer("any", prompt, 3), ""},
		{"clipped by max_completion_tokens", "any", `"max_tokens":9,"max_completion_tokens":4`, "length", sim.Answer("any", prompt, 4), ""},
		{"tools call the first tool", "any", toolsJSON, "tool_calls", "", "search"},
		{"named tool choice", "any", toolsJSON + `,"tool_choice":{"type":"function","function":{"name":"lookup"}}`, "tool_calls", "", "lookup"},
		{"tool choice none", "any", toolsJSON + `,"tool_choice":"none"`, "stop", sim.Answer("any", prompt, 0), ""},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, body := c.mustDo(t, "/chat/completions", chatBody(tt.model, prompt, tt.extra))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				got := decodeJSON[openai.ChatCompletion](t, body)
				if !strings.HasPrefix(got.ID, "chatcmpl-sim-") || got.Object != "chat.completion" || got.Model != tt.model {
					t.Errorf("id/object/model = %q/%q/%q", got.ID, got.Object, got.Model)
				}
				if len(got.Choices) != 1 {
					t.Fatalf("choices: %s", body)
				}
				ch := got.Choices[0]
				if ch.FinishReason != tt.wantFinish {
					t.Errorf("finish_reason = %q, want %q", ch.FinishReason, tt.wantFinish)
				}
				if tt.wantTool == "" {
					if ch.Message.Content == nil || *ch.Message.Content != tt.wantText {
						t.Errorf("content = %v, want %q", ch.Message.Content, tt.wantText)
					}
				} else {
					tc := ch.Message.ToolCalls
					if len(tc) != 1 || tc[0].Function.Name != tt.wantTool || !strings.HasPrefix(tc[0].ID, "call_") ||
						tc[0].Index != nil || !json.Valid([]byte(tc[0].Function.Arguments)) || ch.Message.Content != nil {
						t.Errorf("tool call message = %s", body)
					}
				}
				u := got.Usage
				// "be brief" (2+3) + the 5-word prompt (5+3).
				if u == nil || u.PromptTokens != 13 || u.CompletionTokens < 1 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
					t.Errorf("usage = %+v", u)
				}
				if tt.wantText != "" && u != nil && int(u.CompletionTokens) != len(strings.Fields(tt.wantText)) {
					t.Errorf("completion_tokens = %d for %q", u.CompletionTokens, tt.wantText)
				}
			})
		}
	}
}

func TestAnswerDeterministic(t *testing.T) {
	t.Parallel()
	a, b := New(Options{}), New(Options{Seed: 99})
	tests := []struct {
		name         string
		model, p     string
		max, wantLen int
	}{
		{"default", "m", "hello", 0, DefaultLength},
		{"clipped", "m", "hello", 2, 2},
		{"other model", "n", "hello", 0, DefaultLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x, y := a.Answer(tt.model, tt.p, tt.max), b.Answer(tt.model, tt.p, tt.max)
			if x != y || len(strings.Fields(x)) != tt.wantLen || strings.Contains(x, "  ") {
				t.Errorf("Answer = %q and %q", x, y)
			}
		})
	}
	if a.Answer("m", "hello", 0) == a.Answer("m", "goodbye", 0) {
		t.Error("different prompts give the same answer")
	}
}

// streamResult is a parsed chat stream.
type streamResult struct {
	chunks  []openai.ChatCompletionChunk
	raw     []string
	done    bool
	content string
	args    string
	finish  string
	usage   *openai.Usage
}

// parseChatStream decodes every event, checking the rules every chunk must
// follow whatever the request.
func parseChatStream(t *testing.T, events []string, includeUsage bool) streamResult {
	t.Helper()
	var r streamResult
	for i, ev := range events {
		if ev == "[DONE]" {
			if i != len(events)-1 {
				t.Errorf("[DONE] is event %d of %d", i, len(events))
			}
			r.done = true
			continue
		}
		keys := keysOf(t, []byte(ev))
		if _, ok := keys["error"]; ok {
			t.Errorf("chunk has an error key: %s", ev)
		}
		if u, ok := keys["usage"]; ok != includeUsage {
			t.Errorf("usage key present = %v, want %v: %s", ok, includeUsage, ev)
		} else if ok && string(u) != "null" && len(keys["choices"]) > 2 {
			t.Errorf("usage on a chunk with choices: %s", ev)
		}
		c := decodeJSON[openai.ChatCompletionChunk](t, []byte(ev))
		assertSameAsTyped(t, ev, c)
		if len(r.chunks) > 0 && (c.ID != r.chunks[0].ID || c.Created != r.chunks[0].Created || c.Model != r.chunks[0].Model) {
			t.Errorf("chunk %d id/created/model differ from the first: %s", i, ev)
		}
		for _, ch := range c.Choices {
			if (ch.Delta.Role != "") != (len(r.chunks) == 0) {
				t.Errorf("role in chunk %d: %s", i, ev)
			}
			if ch.Delta.Content != nil {
				r.content += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				r.args += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				r.finish = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			r.usage = c.Usage
		}
		r.chunks = append(r.chunks, c)
		r.raw = append(r.raw, ev)
	}
	return r
}

// assertSameAsTyped checks that a hand-encoded chunk equals the typed
// encoding of what it decodes to.
func assertSameAsTyped(t *testing.T, ev string, c openai.ChatCompletionChunk) {
	t.Helper()
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal([]byte(ev), &a)
	_ = json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("wire chunk differs from its typed encoding\nwire:  %s\ntyped: %s", ev, out)
	}
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	prompt := "stream me a story"
	tests := []struct {
		name         string
		extra        string
		includeUsage bool
		wantFinish   string
		wantText     string
	}{
		{"without usage", `"stream":true`, false, "stop", sim.Answer("m", prompt, 0)},
		{"include_usage false", `"stream":true,"stream_options":{"include_usage":false}`, false, "stop", sim.Answer("m", prompt, 0)},
		{"with usage", `"stream":true,"stream_options":{"include_usage":true}`, true, "stop", sim.Answer("m", prompt, 0)},
		{"clipped", `"stream":true,"max_tokens":2`, false, "length", sim.Answer("m", prompt, 2)},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, body := c.mustDo(t, "/chat/completions", chatBody("m", prompt, tt.extra))
				if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" ||
					resp.Header.Get("Cache-Control") != "no-cache" {
					t.Fatalf("status %d, content-type %q", resp.StatusCode, ct)
				}
				events, _ := readEvents(strings.NewReader(string(body)))
				r := parseChatStream(t, events, tt.includeUsage)
				if !r.done || r.content != tt.wantText || r.finish != tt.wantFinish {
					t.Errorf("done=%v content=%q finish=%q; want content %q finish %q", r.done, r.content, r.finish, tt.wantText, tt.wantFinish)
				}
				if first := r.raw[0]; !strings.Contains(first, `"delta":{"role":"assistant","content":""}`) {
					t.Errorf("first chunk = %s", first)
				}
				if !strings.HasPrefix(r.chunks[0].ID, "chatcmpl-sim-") || r.chunks[0].Object != "chat.completion.chunk" {
					t.Errorf("first chunk id/object: %s", r.raw[0])
				}
				wantChunks := len(strings.Fields(tt.wantText)) + 2 // role, tokens, finish
				if tt.includeUsage {
					wantChunks++
					last := r.chunks[len(r.chunks)-1]
					if len(last.Choices) != 0 || r.usage == nil || int(r.usage.CompletionTokens) != len(strings.Fields(tt.wantText)) {
						t.Errorf("usage chunk = %s", r.raw[len(r.raw)-1])
					}
				} else if r.usage != nil {
					t.Errorf("usage sent without include_usage")
				}
				if len(r.chunks) != wantChunks {
					t.Errorf("%d chunks, want %d", len(r.chunks), wantChunks)
				}
			})
		}
	}
}

func TestChatStreamToolCalls(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	prompt := "find the weather in Paris, écrit en français"
	_, nonStream := conns(t, sim)[1].mustDo(t, "/chat/completions", chatBody("m", prompt, toolsJSON))
	want := decodeJSON[openai.ChatCompletion](t, nonStream).Choices[0].Message.ToolCalls[0]
	tests := []struct {
		name         string
		includeUsage bool
	}{
		{"without usage", false},
		{"with usage", true},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				extra := toolsJSON + `,"stream":true`
				if tt.includeUsage {
					extra += `,"stream_options":{"include_usage":true}`
				}
				_, body := c.mustDo(t, "/chat/completions", chatBody("m", prompt, extra))
				events, _ := readEvents(strings.NewReader(string(body)))
				r := parseChatStream(t, events, tt.includeUsage)
				if !r.done || r.finish != "tool_calls" || r.args != want.Function.Arguments || r.content != "" {
					t.Fatalf("done=%v finish=%q args=%q want args %q", r.done, r.finish, r.args, want.Function.Arguments)
				}
				first := r.chunks[0].Choices[0].Delta.ToolCalls
				if len(first) != 1 || first[0].Index == nil || *first[0].Index != 0 || first[0].ID != want.ID ||
					first[0].Type != "function" || first[0].Function.Name != want.Function.Name ||
					!strings.Contains(r.raw[0], `"arguments":""`) {
					t.Errorf("header delta = %s", r.raw[0])
				}
				frags := 0
				for i, ch := range r.chunks[1:] {
					if len(ch.Choices) == 0 || ch.Choices[0].FinishReason != nil {
						break
					}
					tc := ch.Choices[0].Delta.ToolCalls
					if len(tc) != 1 || tc[0].Index == nil || *tc[0].Index != 0 || tc[0].ID != "" || tc[0].Type != "" || tc[0].Function.Name != "" {
						t.Errorf("fragment delta %d = %s", i, r.raw[i+1])
					}
					frags++
				}
				if frags < 3 {
					t.Errorf("%d argument fragments, want at least 3", frags)
				}
				fin := r.raw[frags+1]
				if !strings.Contains(fin, `"delta":{},"logprobs":null,"finish_reason":"tool_calls"`) {
					t.Errorf("finish chunk = %s", fin)
				}
			})
		}
	}
}
