package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestChatMessageText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"string", `"hello there"`, "hello there"},
		{"escaped string", `"a\nb \u00e9"`, "a\nb é"},
		{"text parts joined", `[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]`, "one\ntwo"},
		{"null", `null`, ""},
		{"absent", ``, ""},
		{"malformed", `[{"type":`, ""},
		{"number", `42`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ChatMessage{Role: RoleUser, Content: json.RawMessage(tt.content)}
			if got := m.Text(); got != tt.want {
				t.Errorf("Text() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStringContent(t *testing.T) {
	t.Parallel()
	m := ChatMessage{Role: RoleUser, Content: StringContent(`say "hi"`)}
	if got := m.Text(); got != `say "hi"` {
		t.Errorf("Text() = %q", got)
	}
}

func TestToolChoiceMode(t *testing.T) {
	t.Parallel()
	tools := []Tool{{Type: "function", Function: FunctionDef{Name: "f"}}}
	tests := []struct {
		name     string
		choice   string
		tools    []Tool
		wantMode string
		wantName string
	}{
		{"absent without tools", ``, nil, "none", ""},
		{"absent with tools", ``, tools, "auto", ""},
		{"null with tools", `null`, tools, "auto", ""},
		{"none", `"none"`, tools, "none", ""},
		{"required", `"required"`, tools, "required", ""},
		{"named function", `{"type":"function","function":{"name":"g"}}`, tools, "function", "g"},
		{"allowed tools", `{"type":"allowed_tools","allowed_tools":{}}`, tools, "auto", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ChatCompletionRequest{Tools: tt.tools, ToolChoice: json.RawMessage(tt.choice)}
			mode, name := r.ToolChoiceMode()
			if mode != tt.wantMode || name != tt.wantName {
				t.Errorf("ToolChoiceMode() = %q, %q; want %q, %q", mode, name, tt.wantMode, tt.wantName)
			}
		})
	}
}

func TestMaxOutputTokens(t *testing.T) {
	t.Parallel()
	ten, twenty := 10, 20
	tests := []struct {
		name string
		req  ChatCompletionRequest
		want int
	}{
		{"none", ChatCompletionRequest{}, 0},
		{"max_tokens", ChatCompletionRequest{MaxTokens: &ten}, 10},
		{"max_completion_tokens wins", ChatCompletionRequest{MaxTokens: &ten, MaxCompletionTokens: &twenty}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.req.MaxOutputTokens(); got != tt.want {
				t.Errorf("MaxOutputTokens() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestChunkUsageEncoding(t *testing.T) {
	t.Parallel()
	stop := FinishStop
	base := ChatCompletionChunk{ID: "c", Object: ObjectChatCompletionChunk, Created: 1, Model: "m",
		Choices: []ChunkChoice{{Delta: ChunkDelta{}, FinishReason: &stop}}}
	tests := []struct {
		name      string
		mutate    func(c *ChatCompletionChunk)
		wantUsage string // "" = key absent
	}{
		{"usage not requested", func(*ChatCompletionChunk) {}, ""},
		{"usage requested", func(c *ChatCompletionChunk) { c.IncludeUsageNull = true }, "null"},
		{"usage chunk", func(c *ChatCompletionChunk) {
			c.Choices = nil
			c.Usage = &Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}
		}, `{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base
			tt.mutate(&c)
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(out, &keys); err != nil {
				t.Fatal(err)
			}
			if _, ok := keys["error"]; ok {
				t.Errorf("chunk has a top-level error key: %s", out)
			}
			if string(keys["choices"]) == "null" {
				t.Errorf("choices encoded as null: %s", out)
			}
			if got := string(keys["usage"]); got != tt.wantUsage {
				t.Errorf("usage = %q, want %q (in %s)", got, tt.wantUsage, out)
			}
			if !strings.Contains(string(out), `"delta":{}`) && c.Choices != nil {
				t.Errorf("empty delta not encoded as {}: %s", out)
			}
		})
	}
}

func TestCompletionChunkUsageEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		chunk CompletionChunk
		want  string
	}{
		{"omitted", CompletionChunk{ID: "c", Object: ObjectTextCompletion},
			`{"id":"c","object":"text_completion","created":0,"model":"","choices":[]}`},
		{"null", CompletionChunk{ID: "c", Object: ObjectTextCompletion, IncludeUsageNull: true},
			`{"id":"c","object":"text_completion","created":0,"model":"","choices":[],"usage":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := json.Marshal(tt.chunk)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}
