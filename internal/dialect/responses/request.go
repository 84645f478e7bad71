package responses

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Error codes of a [RequestError], as OpenAI uses them.
const (
	CodeUnsupportedParameter = "unsupported_parameter"
	CodeUnsupportedValue     = "unsupported_value"
	CodeInvalidValue         = "invalid_value"
	CodeMissingParameter     = "missing_required_parameter"
)

// RequestError is a Responses request that cannot be translated: Param
// names the parameter at fault (such as "input[2].type"), Code is one of the
// Code constants and Message says what to do instead.
type RequestError struct {
	Param   string
	Code    string
	Message string
}

func (e *RequestError) Error() string { return e.Param + ": " + e.Message }

func reqErr(param, code, format string, args ...any) *RequestError {
	return &RequestError{Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(param, what string) *RequestError {
	return reqErr(param, CodeInvalidValue, "%s must be %s.", param, what)
}

// Translation is a Responses request turned into chat completions.
type Translation struct {
	// Chat is the chat completions request body. A stream always asks for
	// the usage chunk, which the response needs.
	Chat []byte
	// Stream reports whether the client asked for a stream.
	Stream bool
	// Echo holds the request parameters the response object repeats.
	Echo Echo
}

// Echo is the part of a request that a response object repeats back. Raw
// fields hold the client's JSON; nil ones are written with their defaults.
type Echo struct {
	Model             string
	Instructions      *string
	MaxOutputTokens   *int64
	ParallelToolCalls *bool
	Temperature       *float64
	TopP              *float64
	ToolChoice        json.RawMessage
	Tools             json.RawMessage
	Text              json.RawMessage
	Reasoning         json.RawMessage
	Metadata          json.RawMessage
	User              string
}

// Parameters that are accepted and deliberately ignored: tollgate stores
// nothing (store), includes nothing beyond what it can produce (include),
// never truncates input (truncation) and has no per-stream options
// (stream_options); max_tool_calls only bounds built-in tools.
var ignored = []string{"store", "include", "truncation", "stream_options", "max_tool_calls", "prompt_cache_retention"}

// stateful parameters refer to data tollgate does not keep.
var stateful = []string{"previous_response_id", "conversation", "prompt"}

// chatRequest is the chat completions body built from a Responses request.
type chatRequest struct {
	Model             string          `json:"model"`
	Messages          []chatMessage   `json:"messages"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     json.RawMessage `json:"stream_options,omitempty"`
	MaxTokens         *int64          `json:"max_tokens,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	Tools             []chatTool      `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort   string          `json:"reasoning_effort,omitempty"`
	Verbosity         string          `json:"verbosity,omitempty"`
	User              string          `json:"user,omitempty"`
	SafetyIdentifier  string          `json:"safety_identifier,omitempty"`
	PromptCacheKey    string          `json:"prompt_cache_key,omitempty"`
	ServiceTier       string          `json:"service_tier,omitempty"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// TranslateRequest translates a Responses API request body into a chat
// completions request. It returns a *RequestError for a request that is
// invalid or cannot be translated, and never panics on any input.
func TranslateRequest(body []byte) (*Translation, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, reqErr("", CodeInvalidValue, "The request body must be a JSON object.")
	}
	t := &Translation{}
	out := chatRequest{}
	var input json.RawMessage
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		if !isNull(v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // the first bad parameter reported is always the same
	for _, k := range keys {
		if err := t.field(&out, k, fields[k], &input); err != nil {
			return nil, err
		}
	}
	if out.Model == "" {
		return nil, reqErr("model", CodeMissingParameter, "You must provide a model parameter: a string naming a model from GET /v1/models.")
	}
	if input == nil {
		return nil, reqErr("input", CodeMissingParameter, "You must provide an input parameter: a string or an array of input items.")
	}
	msgs, err := translateInput(input)
	if err != nil {
		return nil, err
	}
	if t.Echo.Instructions != nil && *t.Echo.Instructions != "" {
		msgs = slices.Insert(msgs, 0, chatMessage{Role: "system", Content: jsonString(*t.Echo.Instructions)})
	}
	if len(msgs) == 0 {
		return nil, invalid("input", "a non-empty string or a non-empty array of input items")
	}
	out.Messages = msgs
	if out.Stream {
		out.StreamOptions = json.RawMessage(`{"include_usage":true}`)
	}
	t.Stream = out.Stream
	t.Echo.Model = out.Model
	t.Echo.User = out.User
	if t.Chat, err = json.Marshal(out); err != nil {
		return nil, fmt.Errorf("encoding the chat request: %w", err)
	}
	return t, nil
}

// field translates one top-level parameter.
func (t *Translation) field(out *chatRequest, key string, v json.RawMessage, input *json.RawMessage) error {
	switch key {
	case "model":
		return decode(v, &out.Model, key, "a string naming a model")
	case "input":
		*input = v
	case "instructions":
		t.Echo.Instructions = new(string)
		return decode(v, t.Echo.Instructions, key, "a string")
	case "max_output_tokens":
		if err := decode(v, &out.MaxTokens, key, "a positive integer"); err != nil {
			return err
		}
		if *out.MaxTokens < 1 {
			return invalid(key, "a positive integer")
		}
		t.Echo.MaxOutputTokens = out.MaxTokens
	case "temperature":
		t.Echo.Temperature = new(float64)
		out.Temperature = t.Echo.Temperature
		return decode(v, out.Temperature, key, "a number")
	case "top_p":
		t.Echo.TopP = new(float64)
		out.TopP = t.Echo.TopP
		return decode(v, out.TopP, key, "a number")
	case "parallel_tool_calls":
		t.Echo.ParallelToolCalls = new(bool)
		out.ParallelToolCalls = t.Echo.ParallelToolCalls
		return decode(v, out.ParallelToolCalls, key, "true or false")
	case "stream":
		return decode(v, &out.Stream, key, "true or false")
	case "tools":
		t.Echo.Tools = v
		tools, err := translateTools(v)
		out.Tools = tools
		return err
	case "tool_choice":
		t.Echo.ToolChoice = v
		tc, err := translateToolChoice(v)
		out.ToolChoice = tc
		return err
	case "text":
		t.Echo.Text = v
		return translateText(v, out)
	case "reasoning":
		t.Echo.Reasoning = v
		var r struct {
			Effort string `json:"effort"`
		}
		if err := decode(v, &r, key, `an object such as {"effort": "low"}`); err != nil {
			return err
		}
		out.ReasoningEffort = r.Effort
	case "metadata":
		t.Echo.Metadata = v
		var m map[string]string
		return decode(v, &m, key, "an object of string values")
	case "user":
		return decode(v, &out.User, key, "a string")
	case "safety_identifier":
		return decode(v, &out.SafetyIdentifier, key, "a string")
	case "prompt_cache_key":
		return decode(v, &out.PromptCacheKey, key, "a string")
	case "service_tier":
		return decode(v, &out.ServiceTier, key, "a string")
	case "background":
		var b bool
		if err := decode(v, &b, key, "true or false"); err != nil {
			return err
		}
		if b {
			return reqErr(key, CodeUnsupportedValue, "tollgate does not run responses in the background: it stores no responses to poll. Send the request without background, or with stream: true for long answers.")
		}
	default:
		if slices.Contains(ignored, key) {
			return nil
		}
		if slices.Contains(stateful, key) {
			return reqErr(key, CodeUnsupportedParameter, "tollgate does not store responses or conversations, so it cannot use %s. Send the whole conversation in input instead (earlier output items included).", key)
		}
		return reqErr(key, CodeUnsupportedParameter, "Unsupported parameter: %s. tollgate serves the Responses API by translating it to chat completions and cannot translate this parameter; remove it.", key)
	}
	return nil
}

// translateTools converts flat function tools; built-in tools are refused.
func translateTools(raw json.RawMessage) ([]chatTool, error) {
	var tools []struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	}
	if err := decode(raw, &tools, "tools", "an array of tools"); err != nil {
		return nil, err
	}
	out := make([]chatTool, 0, len(tools))
	for i, tl := range tools {
		param := fmt.Sprintf("tools[%d]", i)
		if tl.Type != "function" {
			return nil, reqErr(param+".type", CodeUnsupportedValue, "tollgate serves the Responses API by translating it to chat completions, which cannot run the built-in tool %q. Only function tools are supported.", tl.Type)
		}
		if tl.Name == "" {
			return nil, reqErr(param+".name", CodeMissingParameter, "Every function tool needs a name.")
		}
		if isNull(tl.Parameters) {
			tl.Parameters = nil
		}
		out = append(out, chatTool{Type: "function", Function: chatFunction{Name: tl.Name, Description: tl.Description, Parameters: tl.Parameters, Strict: tl.Strict}})
	}
	return out, nil
}

// translateToolChoice converts tool_choice to its chat form.
func translateToolChoice(raw json.RawMessage) (json.RawMessage, error) {
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch mode {
		case "none", "auto", "required":
			return jsonString(mode), nil
		}
		return nil, reqErr("tool_choice", CodeInvalidValue, `tool_choice must be "none", "auto", "required" or {"type": "function", "name": "..."}.`)
	}
	var tc struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Mode  string `json:"mode"`
		Tools []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := decode(raw, &tc, "tool_choice", `a string or an object such as {"type": "function", "name": "..."}`); err != nil {
		return nil, err
	}
	switch {
	case tc.Type == "function" && tc.Name != "":
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
	case tc.Type == "allowed_tools":
		type named struct {
			Type     string            `json:"type"`
			Function map[string]string `json:"function"`
		}
		tools := make([]named, 0, len(tc.Tools))
		for i, tl := range tc.Tools {
			if tl.Type != "function" || tl.Name == "" {
				return nil, reqErr(fmt.Sprintf("tool_choice.tools[%d]", i), CodeUnsupportedValue, "tollgate can only allow function tools, each named.")
			}
			tools = append(tools, named{Type: "function", Function: map[string]string{"name": tl.Name}})
		}
		return json.Marshal(map[string]any{"type": "allowed_tools", "allowed_tools": map[string]any{"mode": tc.Mode, "tools": tools}})
	}
	return nil, reqErr("tool_choice", CodeUnsupportedValue, "tollgate serves the Responses API by translating it to chat completions and can only choose function tools, not %q.", tc.Type)
}

// translateText converts text.format to response_format and text.verbosity.
func translateText(raw json.RawMessage, out *chatRequest) error {
	var text struct {
		Format *struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict"`
		} `json:"format"`
		Verbosity string `json:"verbosity"`
	}
	if err := decode(raw, &text, "text", `an object such as {"format": {"type": "text"}}`); err != nil {
		return err
	}
	out.Verbosity = text.Verbosity
	if text.Format == nil {
		return nil
	}
	f := text.Format
	switch f.Type {
	case "text":
	case "json_object":
		out.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		if f.Name == "" {
			return reqErr("text.format.name", CodeMissingParameter, "A json_schema format needs a name.")
		}
		if isNull(f.Schema) {
			f.Schema = nil
		}
		type schema struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema,omitempty"`
			Strict      *bool           `json:"strict,omitempty"`
		}
		b, err := json.Marshal(struct {
			Type       string `json:"type"`
			JSONSchema schema `json:"json_schema"`
		}{"json_schema", schema{f.Name, f.Description, f.Schema, f.Strict}})
		if err != nil {
			return invalid("text.format.schema", "a JSON Schema object")
		}
		out.ResponseFormat = b
	default:
		return reqErr("text.format.type", CodeUnsupportedValue, `text.format.type must be "text", "json_object" or "json_schema".`)
	}
	return nil
}

// decode unmarshals v, naming param and the expected shape on failure.
func decode(v json.RawMessage, dst any, param, what string) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return invalid(param, what)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}
