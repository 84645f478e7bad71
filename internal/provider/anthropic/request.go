package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tollgate/tollgate/internal/openai"
)

// RequestError is a chat request that cannot be expressed in the Messages
// API. It becomes a 400 invalid_request_error; Param names the offending
// field, as OpenAI does.
type RequestError struct {
	// Param is the request field at fault, e.g. "n" or "messages[2].content".
	Param string `json:"param"`
	// Code is "unsupported_parameter", "unsupported_value" or
	// "invalid_value".
	Code string `json:"code"`
	// Message explains the problem to the client.
	Message string `json:"message"`
}

// Error implements error.
func (e *RequestError) Error() string { return e.Message }

// The codes of a RequestError.
const (
	codeUnsupportedParam = "unsupported_parameter"
	codeUnsupportedValue = "unsupported_value"
	codeInvalidValue     = "invalid_value"
)

func reqErr(param, code, format string, args ...any) *RequestError {
	return &RequestError{Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}

// chatRequest is the part of an OpenAI chat request the translation reads.
// Fields Anthropic cannot honour are decoded only to be rejected.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	Tools               []openai.Tool   `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	User                string          `json:"user"`
	SafetyIdentifier    string          `json:"safety_identifier"`

	N                *int            `json:"n"`
	Logprobs         *bool           `json:"logprobs"`
	TopLogprobs      *int            `json:"top_logprobs"`
	LogitBias        json.RawMessage `json:"logit_bias"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	ResponseFormat   *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	Functions    json.RawMessage `json:"functions"`
	FunctionCall json.RawMessage `json:"function_call"`
	Audio        json.RawMessage `json:"audio"`
	Prediction   json.RawMessage `json:"prediction"`
}

type chatMessage struct {
	Role       string            `json:"role"`
	Content    json.RawMessage   `json:"content"`
	ToolCalls  []openai.ToolCall `json:"tool_calls"`
	ToolCallID string            `json:"tool_call_id"`
}

type contentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	} `json:"file"`
}

// messagesRequest is the body of POST /v1/messages.
type messagesRequest struct {
	Model         string       `json:"model"`
	MaxTokens     int          `json:"max_tokens"`
	System        string       `json:"system,omitempty"`
	Messages      []message    `json:"messages"`
	StopSequences []string     `json:"stop_sequences,omitempty"`
	Temperature   *float64     `json:"temperature,omitempty"`
	TopP          *float64     `json:"top_p,omitempty"`
	Tools         []tool       `json:"tools,omitempty"`
	ToolChoice    *toolChoice  `json:"tool_choice,omitempty"`
	Metadata      *requestMeta `json:"metadata,omitempty"`
	Stream        bool         `json:"stream,omitempty"`
}

type message struct {
	Role    string `json:"role"`
	Content any    `json:"content"` // string or []block
}

// block is a content block, in requests and responses.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *source         `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   any             `json:"content,omitempty"` // tool_result: string or []block
}

type source struct {
	Type      string `json:"type"` // "base64" or "url"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type requestMeta struct {
	UserID string `json:"user_id"`
}

// RequestOptions steer TranslateRequest.
type RequestOptions struct {
	// DefaultMaxTokens is used when the client sets no output limit
	// (Anthropic requires one). Zero means 4096.
	DefaultMaxTokens int
	// Stream asks for a streamed answer.
	Stream bool
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// TranslateRequest turns an OpenAI chat completions body into a Messages
// API body. A request that cannot be translated yields a *RequestError.
//
// Choices made where the APIs differ: temperature above 1 (OpenAI allows
// up to 2) is clamped to 1.0, Anthropic's maximum; system and developer
// messages are joined with blank lines into "system"; seed, store,
// metadata, service_tier, reasoning_effort and stream_options are dropped;
// n>1, logprobs, logit_bias, penalties, JSON response formats, audio and
// the legacy functions API are rejected.
func TranslateRequest(body []byte, opts RequestOptions) ([]byte, error) {
	var in chatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, reqErr("", codeInvalidValue, "The request body is not a valid chat completions request: %v", err)
	}
	if err := checkUnsupported(&in); err != nil {
		return nil, err
	}
	out := messagesRequest{Model: in.Model, Stream: opts.Stream}
	if in.Model == "" {
		return nil, reqErr("model", codeInvalidValue, "You must provide a model parameter.")
	}
	var err error
	if out.MaxTokens, err = maxTokens(&in, opts.DefaultMaxTokens); err != nil {
		return nil, err
	}
	if out.System, out.Messages, err = translateMessages(in.Messages); err != nil {
		return nil, err
	}
	if out.StopSequences, err = stopSequences(in.Stop); err != nil {
		return nil, err
	}
	if t := in.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return nil, reqErr("temperature", codeInvalidValue, "temperature must be between 0 and 2, got %v.", *t)
		}
		out.Temperature = new(min(*t, 1.0))
	}
	out.TopP = in.TopP
	if out.Tools, out.ToolChoice, err = translateTools(&in); err != nil {
		return nil, err
	}
	if u := cmpOr(in.User, in.SafetyIdentifier); u != "" {
		out.Metadata = &requestMeta{UserID: u}
	}
	return json.Marshal(out)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func checkUnsupported(in *chatRequest) error {
	const why = "Anthropic channels do not support %s."
	switch {
	case in.N != nil && *in.N > 1:
		return reqErr("n", codeUnsupportedValue, why, "n > 1 (several choices)")
	case in.Logprobs != nil && *in.Logprobs:
		return reqErr("logprobs", codeUnsupportedParam, why, "logprobs")
	case in.TopLogprobs != nil:
		return reqErr("top_logprobs", codeUnsupportedParam, why, "top_logprobs")
	case len(in.LogitBias) > 0 && !isNullOrEmpty(in.LogitBias):
		return reqErr("logit_bias", codeUnsupportedParam, why, "logit_bias")
	case in.FrequencyPenalty != nil && *in.FrequencyPenalty != 0:
		return reqErr("frequency_penalty", codeUnsupportedParam, why, "frequency_penalty")
	case in.PresencePenalty != nil && *in.PresencePenalty != 0:
		return reqErr("presence_penalty", codeUnsupportedParam, why, "presence_penalty")
	case in.ResponseFormat != nil && in.ResponseFormat.Type != "" && in.ResponseFormat.Type != "text":
		return reqErr("response_format", codeUnsupportedValue, why, "response_format "+in.ResponseFormat.Type)
	case !isNullOrEmpty(in.Functions) || !isNullOrEmpty(in.FunctionCall):
		return reqErr("functions", codeUnsupportedParam, why, "the legacy functions API; use tools")
	case !isNullOrEmpty(in.Audio):
		return reqErr("audio", codeUnsupportedParam, why, "audio output")
	case !isNullOrEmpty(in.Prediction):
		return reqErr("prediction", codeUnsupportedParam, why, "predicted outputs")
	}
	return nil
}

func isNullOrEmpty(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "" || s == "null" || s == "{}"
}

func maxTokens(in *chatRequest, def int) (int, error) {
	switch {
	case in.MaxCompletionTokens != nil:
		if *in.MaxCompletionTokens < 1 {
			return 0, reqErr("max_completion_tokens", codeInvalidValue, "max_completion_tokens must be at least 1.")
		}
		return *in.MaxCompletionTokens, nil
	case in.MaxTokens != nil:
		if *in.MaxTokens < 1 {
			return 0, reqErr("max_tokens", codeInvalidValue, "max_tokens must be at least 1.")
		}
		return *in.MaxTokens, nil
	case def > 0:
		return def, nil
	}
	return DefaultMaxTokens, nil
}

func stopSequences(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, reqErr("stop", codeInvalidValue, "stop must be a string or an array of strings.")
	}
	return many, nil
}

// translateTools maps tools, tool_choice and parallel_tool_calls.
func translateTools(in *chatRequest) ([]tool, *toolChoice, error) {
	if len(in.Tools) == 0 {
		return nil, nil, nil // a tool_choice without tools has nothing to choose
	}
	tools := make([]tool, len(in.Tools))
	for i, t := range in.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "" && t.Type != "function" {
			return nil, nil, reqErr(p+".type", codeUnsupportedValue, "Anthropic channels support only function tools, not %q.", t.Type)
		}
		if t.Function.Name == "" {
			return nil, nil, reqErr(p+".function.name", codeInvalidValue, "Every tool must have a function name.")
		}
		schema := t.Function.Parameters
		if isNullOrEmpty(schema) {
			schema = emptySchema
		}
		tools[i] = tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema}
	}
	choice, err := translateToolChoice(in.ToolChoice)
	if err != nil {
		return nil, nil, err
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls && choice.Type != "none" {
		choice.DisableParallelToolUse = true
	}
	return tools, choice, nil
}

func translateToolChoice(raw json.RawMessage) (*toolChoice, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return &toolChoice{Type: "auto"}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return &toolChoice{Type: "auto"}, nil
		case "none":
			return &toolChoice{Type: "none"}, nil
		case "required":
			return &toolChoice{Type: "any"}, nil
		}
		return nil, reqErr("tool_choice", codeInvalidValue, "tool_choice must be \"none\", \"auto\", \"required\" or a named function, got %q.", s)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &obj) != nil || obj.Type != "function" || obj.Function.Name == "" {
		return nil, reqErr("tool_choice", codeUnsupportedValue, "Anthropic channels accept tool_choice \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}.")
	}
	return &toolChoice{Type: "tool", Name: obj.Function.Name}, nil
}
