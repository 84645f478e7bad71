package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// ResponseOptions fill what an OpenAI answer may lack.
type ResponseOptions struct {
	// Model names the model when the answer does not.
	Model string
	// ID is the message id when the answer has none, e.g. from the
	// request id.
	ID string
}

// Message is an Anthropic Messages API answer.
type Message struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"` // "message"
	Role         string         `json:"role"` // "assistant"
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// ContentBlock is a text or tool_use block of a Message.
type ContentBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

// Usage is Anthropic's token accounting. InputTokens excludes cached
// tokens, which are counted in CacheReadInputTokens.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// usageFrom converts OpenAI usage, whose prompt count includes cached
// tokens.
func usageFrom(u *openai.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	var cached int64
	if u.PromptTokensDetails != nil {
		cached = min(max(u.PromptTokensDetails.CachedTokens, 0), max(u.PromptTokens, 0))
	}
	return Usage{InputTokens: max(u.PromptTokens-cached, 0), OutputTokens: max(u.CompletionTokens, 0), CacheReadInputTokens: cached}
}

// StopReason maps an OpenAI finish_reason: stop → end_turn, length →
// max_tokens, tool_calls (and the legacy function_call) → tool_use,
// content_filter → refusal. Anything else, including none, is end_turn.
func StopReason(finish string) string {
	switch finish {
	case openai.FinishLength:
		return "max_tokens"
	case openai.FinishToolCalls, "function_call":
		return "tool_use"
	case openai.FinishContentFilter:
		return "refusal"
	}
	return "end_turn"
}

// FinishReason is the inverse of StopReason, for the request log of an
// answer passed through: max_tokens (and a full context window) → length,
// tool_use → tool_calls, refusal → content_filter, anything else → stop.
func FinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return openai.FinishLength
	case "tool_use":
		return openai.FinishToolCalls
	case "refusal":
		return openai.FinishContentFilter
	}
	return openai.FinishStop
}

// messageID makes an Anthropic-looking id from an OpenAI one.
func messageID(id, fallback string) string {
	switch {
	case id == "":
		id = fallback
	case strings.HasPrefix(id, "msg_"):
		return id
	}
	return "msg_" + strings.TrimPrefix(id, "chatcmpl-")
}

// ErrNoChoice is returned for an OpenAI answer without a first choice.
var ErrNoChoice = errors.New("the chat completion has no choices")

// TranslateResponse turns an OpenAI chat completion into a Messages API
// answer: the first choice's text (and refusal) become a text block,
// its tool calls tool_use blocks whose input is the parsed arguments.
// Arguments that are not a JSON object are kept as a string under
// "raw_arguments", so nothing the model produced is lost.
func TranslateResponse(body []byte, opts ResponseOptions) ([]byte, error) {
	var c openai.ChatCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("decoding the chat completion: %w", err)
	}
	if len(c.Choices) == 0 {
		return nil, ErrNoChoice
	}
	ch := c.Choices[0]
	for _, alt := range c.Choices {
		if alt.Index == 0 {
			ch = alt
			break
		}
	}
	msg := Message{ID: messageID(c.ID, opts.ID), Type: "message", Role: "assistant", Model: c.Model,
		Content: []ContentBlock{}, Usage: usageFrom(c.Usage)}
	if msg.Model == "" {
		msg.Model = opts.Model
	}
	text := ""
	if ch.Message.Content != nil {
		text = *ch.Message.Content
	}
	if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
		text += *ch.Message.Refusal
	}
	if text != "" {
		msg.Content = append(msg.Content, ContentBlock{Type: "text", Text: &text})
	}
	for i, tc := range ch.Message.ToolCalls {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("toolu_%s_%d", strings.TrimPrefix(msg.ID, "msg_"), i)
		}
		msg.Content = append(msg.Content, ContentBlock{Type: "tool_use", ID: id, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
	}
	reason := StopReason(ch.FinishReason)
	if ch.FinishReason == "" && len(ch.Message.ToolCalls) > 0 {
		reason = "tool_use"
	}
	msg.StopReason = &reason
	return json.Marshal(msg)
}

// toolInput parses tool call arguments into an input object.
func toolInput(args string) json.RawMessage {
	raw := bytes.TrimSpace([]byte(args))
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	if raw[0] == '{' && json.Valid(raw) {
		return raw
	}
	b, _ := json.Marshal(map[string]string{"raw_arguments": args})
	return b
}
