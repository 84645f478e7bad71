package anthropic

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// messageResponse is a non-stream Messages API answer.
type messageResponse struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	Model      string  `json:"model"`
	Content    []block `json:"content"`
	StopReason string  `json:"stop_reason"`
	Usage      *usage  `json:"usage"`
}

// usage is Anthropic's token accounting. Pointers tell "reported 0" from
// "not reported": a message_delta carries only what changed.
type usage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// usageTotals accumulates usage across stream events; each field keeps the
// last value reported, never a sum (Anthropic's counts are cumulative).
type usageTotals struct {
	input, output, cacheWrite, cacheRead int64
	set                                  bool
}

func (t *usageTotals) merge(u *usage) {
	if u == nil {
		return
	}
	for _, f := range []struct {
		dst *int64
		src *int64
	}{{&t.input, u.InputTokens}, {&t.output, u.OutputTokens}, {&t.cacheWrite, u.CacheCreationInputTokens}, {&t.cacheRead, u.CacheReadInputTokens}} {
		if f.src != nil {
			*f.dst = *f.src
			t.set = true
		}
	}
}

// openAI returns the totals in OpenAI terms: prompt tokens include cache
// writes and reads, cached_tokens are the reads.
func (t *usageTotals) openAI() *openai.Usage {
	prompt := t.input + t.cacheWrite + t.cacheRead
	return &openai.Usage{
		PromptTokens:            prompt,
		CompletionTokens:        t.output,
		TotalTokens:             prompt + t.output,
		PromptTokensDetails:     &openai.PromptTokensDetails{CachedTokens: t.cacheRead},
		CompletionTokensDetails: &openai.CompletionTokensDetails{},
	}
}

// FinishReason maps an Anthropic stop_reason to an OpenAI finish_reason.
// Unknown reasons become "stop", the one every client accepts.
func FinishReason(stopReason string) string {
	switch stopReason {
	case "max_tokens", "model_context_window_exceeded":
		return openai.FinishLength
	case "tool_use":
		return openai.FinishToolCalls
	case "refusal":
		return openai.FinishContentFilter
	}
	return openai.FinishStop
}

// ResponseOptions steer TranslateResponse.
type ResponseOptions struct {
	// Created is the "created" time in Unix seconds (Anthropic sends none).
	Created int64
}

// TranslateResponse turns a Messages API answer into an OpenAI chat
// completion. Text blocks are joined; tool_use blocks become tool calls
// whose arguments are the JSON of their input; thinking and other blocks
// are dropped.
func TranslateResponse(body []byte, opts ResponseOptions) ([]byte, error) {
	var in messageResponse
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	msg := openai.ResponseMessage{Role: openai.RoleAssistant}
	var text strings.Builder
	for _, b := range in.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args := "{}"
			if len(b.Input) > 0 && string(b.Input) != "null" {
				args = compactJSON(b.Input)
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function",
				Function: openai.FunctionCall{Name: b.Name, Arguments: args}})
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	out := openai.ChatCompletion{
		ID:      in.ID,
		Object:  openai.ObjectChatCompletion,
		Created: opts.Created,
		Model:   in.Model,
		Choices: []openai.ChatChoice{{Message: msg, FinishReason: FinishReason(in.StopReason)}},
	}
	if in.Usage != nil {
		var t usageTotals
		t.merge(in.Usage)
		out.Usage = t.openAI()
	}
	return json.Marshal(out)
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
