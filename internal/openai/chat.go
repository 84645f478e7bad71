package openai

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Object names used in the "object" field of responses.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
	ObjectTextCompletion      = "text_completion"
	ObjectEmbedding           = "embedding"
	ObjectModel               = "model"
	ObjectList                = "list"
)

// Message roles.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Finish reasons clients accept; strongly typed SDKs reject others.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// ChatCompletionRequest is the body of POST /v1/chat/completions. Only the
// fields tollgate reads are typed; unknown fields are ignored when decoding.
// Pointer fields are nil when the client did not send them.
type ChatCompletionRequest struct {
	Model               string          `json:"model"`
	Messages            []ChatMessage   `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stop                json.RawMessage `json:"stop,omitempty"` // string or array of strings
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"` // string or object
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	User                string          `json:"user,omitempty"`
}

// StreamOptions is the "stream_options" object of a streaming request.
type StreamOptions struct {
	// IncludeUsage asks for "usage":null on every chunk and a final chunk
	// with empty choices carrying the usage.
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// IncludeUsage reports whether the request asked for a usage chunk.
func (r *ChatCompletionRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// MaxOutputTokens returns max_completion_tokens, else max_tokens, else 0
// (no limit requested).
func (r *ChatCompletionRequest) MaxOutputTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// ToolChoiceMode decodes tool_choice. mode is "none", "auto", "required"
// or "function" (a named function, returned in name); an absent
// tool_choice yields "auto" when tools are present and "none" otherwise.
// Unrecognised shapes yield "auto".
func (r *ChatCompletionRequest) ToolChoiceMode() (mode, name string) {
	raw := bytes.TrimSpace(r.ToolChoice)
	if len(raw) == 0 || string(raw) == "null" {
		if len(r.Tools) > 0 {
			return "auto", ""
		}
		return "none", ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return s, ""
		}
		return "auto", ""
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Function.Name != "" {
		return "function", obj.Function.Name
	}
	return "auto", ""
}

// ChatMessage is one entry of a request's "messages" (and an assistant turn
// echoed back by the client). Content is kept raw: a JSON string, an array
// of content parts, or null.
type ChatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content,omitempty"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

// ContentPart is one element of an array-valued message content. Only text
// parts are interpreted; other part types keep their Type and are ignored
// by Text.
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// StringContent encodes s as a JSON string for ChatMessage.Content.
func StringContent(s string) json.RawMessage {
	b, _ := json.Marshal(s) // marshalling a string cannot fail
	return b
}

// Text returns the message's text: the content string itself, or the text
// parts of an array content joined with "\n". Null, absent or malformed
// content yields "".
func (m ChatMessage) Text() string {
	raw := bytes.TrimSpace(m.Content)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '[':
		var parts []ContentPart
		if json.Unmarshal(raw, &parts) != nil {
			return ""
		}
		var sb strings.Builder
		n := 0
		for _, p := range parts {
			if p.Type != "text" {
				continue
			}
			if n > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(p.Text)
			n++
		}
		return sb.String()
	}
	return ""
}

// Tool is one entry of a request's "tools".
type Tool struct {
	Type     string      `json:"type"` // "function"
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a callable function; Parameters is a JSON Schema
// kept raw.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model makes. In stream deltas Index is set and ID,
// Type and Function.Name appear only in the first delta of each call; in
// complete messages Index is nil.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its arguments, a JSON
// document encoded as a string (it may be invalid JSON).
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}
