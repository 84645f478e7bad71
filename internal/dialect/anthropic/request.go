package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// RequestError is a Messages request tollgate cannot translate: the client
// gets a 400 invalid_request_error naming Param.
type RequestError struct {
	// Param is the offending field, e.g. "messages[1].content[0].type".
	Param string `json:"param"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}

func (e *RequestError) Error() string { return e.Param + ": " + e.Message }

func reqErr(param, format string, args ...any) *RequestError {
	return &RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// Request is a translated Messages request.
type Request struct {
	// Body is the OpenAI chat completion request.
	Body []byte
	// Model is the model the client named.
	Model string
	// Stream reports whether the client asked for a stream. A streamed
	// Body always asks for the usage chunk, which message_delta needs.
	Stream bool
}

// messagesRequest is the part of a Messages request tollgate reads.
// Fields without an OpenAI equivalent (top_k, thinking, service_tier) are
// accepted and dropped.
type messagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	Messages      []message       `json:"messages"`
	System        json.RawMessage `json:"system"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	Tools         []tool          `json:"tools"`
	ToolChoice    *toolChoice     `json:"tool_choice"`
	Metadata      *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// block is one content block of a message or of a tool result.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Source    *source         `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

type source struct {
	Type      string `json:"type"` // base64 or url
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
	URL       string `json:"url"`
}

type tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

// chatRequest is the OpenAI request built; field order is the wire order.
type chatRequest struct {
	Model             string                `json:"model"`
	Messages          []chatMessage         `json:"messages"`
	MaxTokens         int                   `json:"max_tokens"`
	Temperature       *float64              `json:"temperature,omitempty"`
	TopP              *float64              `json:"top_p,omitempty"`
	Stop              []string              `json:"stop,omitempty"`
	Tools             []openai.Tool         `json:"tools,omitempty"`
	ToolChoice        any                   `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool                 `json:"parallel_tool_calls,omitempty"`
	User              string                `json:"user,omitempty"`
	Stream            bool                  `json:"stream,omitempty"`
	StreamOptions     *openai.StreamOptions `json:"stream_options,omitempty"`
}

// chatMessage is an OpenAI message; Content is a string, parts or null.
type chatMessage struct {
	Role       string            `json:"role"`
	Content    any               `json:"content"`
	ToolCalls  []openai.ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
}

// part is an OpenAI content part (text or image_url).
type part struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL string `json:"url"`
}

// TranslateRequest turns a Messages API request body into an OpenAI chat
// completion request. system becomes a leading system message; text and
// image blocks become content parts; tool_use blocks become the assistant
// turn's tool_calls and tool_result blocks become tool messages (placed
// before the rest of their user turn, right after the calls they answer);
// tools, tool_choice, max_tokens, stop_sequences, temperature, top_p and
// metadata.user_id map to their OpenAI fields. A tool result marked
// is_error is prefixed with "Error: ", since OpenAI has no such flag.
// Thinking blocks in assistant turns are dropped. A body that is not a
// valid Messages request is a *RequestError.
func TranslateRequest(body []byte) (*Request, error) {
	var in messagesRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, reqErr("body", "the body is not a valid Messages API request (%v)", jsonProblem(err))
	}
	if in.Model == "" {
		return nil, reqErr("model", "model: Field required")
	}
	if in.MaxTokens == nil {
		return nil, reqErr("max_tokens", "max_tokens: Field required")
	}
	if *in.MaxTokens < 1 {
		return nil, reqErr("max_tokens", "max_tokens: must be at least 1")
	}
	if len(in.Messages) == 0 {
		return nil, reqErr("messages", "messages: at least one message is required")
	}
	out := chatRequest{Model: in.Model, MaxTokens: *in.MaxTokens, Temperature: in.Temperature, TopP: in.TopP,
		Stop: in.StopSequences, Stream: in.Stream}
	if in.Stream {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if in.Metadata != nil {
		out.User = in.Metadata.UserID
	}
	system, err := systemText(in.System)
	if err != nil {
		return nil, err
	}
	if system != "" {
		out.Messages = append(out.Messages, chatMessage{Role: openai.RoleSystem, Content: system})
	}
	for i, m := range in.Messages {
		msgs, err := translateMessage(m, fmt.Sprintf("messages[%d]", i))
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if err := translateTools(&out, in.Tools, in.ToolChoice); err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the chat request: %w", err)
	}
	return &Request{Body: b, Model: in.Model, Stream: in.Stream}, nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s must be %s, not %s", te.Field, article(te.Type.Kind().String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "invalid JSON"
}

func article(kind string) string {
	switch kind {
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "a " + kind
}

// systemText joins a string or an array of text blocks.
func systemText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", reqErr("system", "system must be a string or an array of text blocks")
		}
		return s, nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", reqErr("system", "system must be a string or an array of text blocks")
	}
	texts := make([]string, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != "text" {
			return "", reqErr(fmt.Sprintf("system[%d].type", i), "system blocks must be text blocks, got %q", b.Type)
		}
		texts = append(texts, b.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// blocks decodes a message content: a string is one text block.
func blocks(raw json.RawMessage, param string) ([]block, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, reqErr(param, "content must be a string or an array of content blocks")
		}
		return []block{{Type: "text", Text: s}}, nil
	}
	var bs []block
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &bs) != nil {
		return nil, reqErr(param, "content must be a string or an array of content blocks")
	}
	return bs, nil
}

// translateMessage turns one Messages turn into OpenAI messages.
func translateMessage(m message, p string) ([]chatMessage, error) {
	bs, err := blocks(m.Content, p+".content")
	if err != nil {
		return nil, err
	}
	switch m.Role {
	case "user":
		return userTurn(bs, p)
	case "assistant":
		return assistantTurn(bs, p)
	}
	return nil, reqErr(p+".role", "role must be \"user\" or \"assistant\", got %q (put system prompts in the top-level system field)", m.Role)
}

// userTurn emits the turn's tool results as tool messages first, then its
// text and images as one user message.
func userTurn(bs []block, p string) ([]chatMessage, error) {
	var out []chatMessage
	var parts []part
	for i, b := range bs {
		bp := fmt.Sprintf("%s.content[%d]", p, i)
		switch b.Type {
		case "text":
			parts = append(parts, part{Type: "text", Text: b.Text})
		case "image":
			pt, err := imagePart(b.Source, bp+".source")
			if err != nil {
				return nil, err
			}
			parts = append(parts, pt)
		case "tool_result":
			if b.ToolUseID == "" {
				return nil, reqErr(bp+".tool_use_id", "a tool_result block needs the tool_use_id of the call it answers")
			}
			text, images, err := toolResult(b, bp)
			if err != nil {
				return nil, err
			}
			out = append(out, chatMessage{Role: openai.RoleTool, ToolCallID: b.ToolUseID, Content: text})
			// OpenAI tool messages carry text only: images a tool returned
			// follow in the user message.
			parts = append(parts, images...)
		default:
			return nil, unsupportedBlock(bp, b.Type)
		}
	}
	if len(parts) > 0 || len(out) == 0 {
		out = append(out, chatMessage{Role: openai.RoleUser, Content: content(parts)})
	}
	return out, nil
}

// content is a single text part as a plain string (which every
// OpenAI-compatible upstream accepts), else the parts.
func content(parts []part) any {
	if len(parts) == 1 && parts[0].Type == "text" {
		return parts[0].Text
	}
	if parts == nil {
		return ""
	}
	return parts
}

func toolResult(b block, bp string) (string, []part, error) {
	raw := bytes.TrimSpace(b.Content)
	var text string
	var images []part
	switch {
	case len(raw) == 0 || string(raw) == "null":
	default:
		inner, err := blocks(raw, bp+".content")
		if err != nil {
			return "", nil, err
		}
		var texts []string
		for j, ib := range inner {
			switch ib.Type {
			case "text":
				texts = append(texts, ib.Text)
			case "image":
				pt, err := imagePart(ib.Source, fmt.Sprintf("%s.content[%d].source", bp, j))
				if err != nil {
					return "", nil, err
				}
				images = append(images, pt)
			default:
				return "", nil, unsupportedBlock(fmt.Sprintf("%s.content[%d]", bp, j), ib.Type)
			}
		}
		text = strings.Join(texts, "\n")
	}
	if b.IsError {
		text = "Error: " + text
	}
	return text, images, nil
}

func imagePart(s *source, param string) (part, error) {
	if s == nil {
		return part{}, reqErr(param, "an image block needs a source")
	}
	switch s.Type {
	case "base64":
		if s.MediaType == "" || s.Data == "" {
			return part{}, reqErr(param, "a base64 image source needs media_type and data")
		}
		return part{Type: "image_url", ImageURL: &imageURL{URL: "data:" + s.MediaType + ";base64," + s.Data}}, nil
	case "url":
		if s.URL == "" {
			return part{}, reqErr(param+".url", "a url image source needs a url")
		}
		return part{Type: "image_url", ImageURL: &imageURL{URL: s.URL}}, nil
	}
	return part{}, reqErr(param+".type", "image sources of type %q are not supported through tollgate (use base64 or url)", s.Type)
}

// assistantTurn joins the text blocks into content and turns tool_use
// blocks into tool_calls; thinking blocks are dropped.
func assistantTurn(bs []block, p string) ([]chatMessage, error) {
	var texts []string
	var calls []openai.ToolCall
	for i, b := range bs {
		bp := fmt.Sprintf("%s.content[%d]", p, i)
		switch b.Type {
		case "text":
			texts = append(texts, b.Text)
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return nil, reqErr(bp, "a tool_use block needs an id and a name")
			}
			args := bytes.TrimSpace(b.Input)
			if len(args) == 0 || string(args) == "null" {
				args = []byte("{}")
			}
			if args[0] != '{' {
				return nil, reqErr(bp+".input", "tool_use input must be an object")
			}
			calls = append(calls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: string(args)}})
		case "thinking", "redacted_thinking":
		default:
			return nil, unsupportedBlock(bp, b.Type)
		}
	}
	msg := chatMessage{Role: openai.RoleAssistant, ToolCalls: calls}
	if len(texts) > 0 {
		msg.Content = strings.Join(texts, "")
	}
	if msg.Content == nil && len(calls) == 0 {
		msg.Content = ""
	}
	return []chatMessage{msg}, nil
}

func unsupportedBlock(param, typ string) error {
	return reqErr(param+".type", "content blocks of type %q are not supported through tollgate (text, image, tool_use and tool_result are)", typ)
}

// translateTools maps tools and tool_choice.
func translateTools(out *chatRequest, tools []tool, choice *toolChoice) error {
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "" && t.Type != "custom" {
			return reqErr(p+".type", "server tools (%q) are not supported through tollgate; declare client tools with name and input_schema", t.Type)
		}
		if t.Name == "" {
			return reqErr(p+".name", "a tool needs a name")
		}
		schema := bytes.TrimSpace(t.InputSchema)
		if len(schema) == 0 || string(schema) == "null" {
			return reqErr(p+".input_schema", "a tool needs an input_schema")
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function", Function: openai.FunctionDef{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	if choice == nil {
		return nil
	}
	switch choice.Type {
	case "auto":
		out.ToolChoice = "auto"
	case "any":
		out.ToolChoice = "required"
	case "none":
		out.ToolChoice = "none"
	case "tool":
		if choice.Name == "" {
			return reqErr("tool_choice.name", "tool_choice of type \"tool\" needs the tool's name")
		}
		out.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": choice.Name}}
	default:
		return reqErr("tool_choice.type", "tool_choice.type must be auto, any, tool or none, got %q", choice.Type)
	}
	if len(out.Tools) == 0 {
		// OpenAI rejects tool_choice without tools; Anthropic ignores it.
		out.ToolChoice = nil
		return nil
	}
	if choice.DisableParallelToolUse && choice.Type != "none" {
		f := false
		out.ParallelToolCalls = &f
	}
	return nil
}
