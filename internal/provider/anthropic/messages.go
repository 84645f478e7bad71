package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// translateMessages builds the system prompt and the turns.
func translateMessages(msgs []chatMessage) (string, []message, error) {
	var system []string
	out := make([]message, 0, len(msgs))
	var results []block // pending tool results, flushed as one user turn
	flush := func() {
		if len(results) > 0 {
			out = append(out, message{Role: "user", Content: results})
			results = nil
		}
	}
	for i, m := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		if m.Role != openai.RoleTool {
			flush()
		}
		switch m.Role {
		case openai.RoleSystem, openai.RoleDeveloper:
			text, err := textOnly(m.Content, p+".content")
			if err != nil {
				return "", nil, err
			}
			if text != "" {
				system = append(system, text)
			}
		case openai.RoleUser:
			c, err := userContent(m.Content, p+".content")
			if err != nil {
				return "", nil, err
			}
			out = append(out, message{Role: "user", Content: c})
		case openai.RoleAssistant:
			msg, ok, err := assistantTurn(m, p)
			if err != nil {
				return "", nil, err
			}
			if ok {
				out = append(out, msg)
			}
		case openai.RoleTool:
			if m.ToolCallID == "" {
				return "", nil, reqErr(p+".tool_call_id", codeInvalidValue, "A tool message needs the tool_call_id of the call it answers.")
			}
			text, err := textOnly(m.Content, p+".content")
			if err != nil {
				return "", nil, err
			}
			results = append(results, block{Type: "tool_result", ToolUseID: m.ToolCallID, Content: text})
		case "function":
			return "", nil, reqErr(p+".role", codeUnsupportedValue, "Anthropic channels do not support the legacy function role; use tool messages.")
		default:
			return "", nil, reqErr(p+".role", codeInvalidValue, "Unknown message role %q.", m.Role)
		}
	}
	flush()
	if len(out) == 0 {
		return "", nil, reqErr("messages", codeInvalidValue, "messages must contain at least one user or assistant message.")
	}
	return strings.Join(system, "\n\n"), out, nil
}

// parts decodes content as a string (ok=false) or an array of parts.
func parts(raw json.RawMessage, param string) (string, []contentPart, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", nil, reqErr(param, codeInvalidValue, "Invalid string content.")
		}
		return s, nil, nil
	}
	var ps []contentPart
	if err := json.Unmarshal(raw, &ps); err != nil {
		return "", nil, reqErr(param, codeInvalidValue, "content must be a string or an array of content parts.")
	}
	return "", ps, nil
}

// textOnly returns string content, or text parts joined with "\n".
func textOnly(raw json.RawMessage, param string) (string, error) {
	s, ps, err := parts(raw, param)
	if err != nil || ps == nil {
		return s, err
	}
	texts := make([]string, 0, len(ps))
	for j, p := range ps {
		if p.Type != "text" {
			return "", reqErr(fmt.Sprintf("%s[%d].type", param, j), codeUnsupportedValue, "Only text parts are allowed here, not %q.", p.Type)
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// userContent keeps a string as a string and maps parts to blocks.
func userContent(raw json.RawMessage, param string) (any, error) {
	s, ps, err := parts(raw, param)
	if err != nil {
		return nil, err
	}
	if ps == nil {
		if s == "" {
			return nil, reqErr(param, codeInvalidValue, "A user message must not be empty.")
		}
		return s, nil
	}
	blocks := make([]block, 0, len(ps))
	for j, p := range ps {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, reqErr(pp+".image_url", codeInvalidValue, "An image_url part needs an image_url object.")
			}
			src, err := imageSource(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, block{Type: "image", Source: src})
		case "file":
			if p.File == nil || !strings.HasPrefix(p.File.FileData, "data:application/pdf;base64,") {
				return nil, reqErr(pp+".file", codeUnsupportedValue, "Anthropic channels accept files only as inline PDF data (file_data: data:application/pdf;base64,...).")
			}
			blocks = append(blocks, block{Type: "document", Source: &source{Type: "base64", MediaType: "application/pdf",
				Data: strings.TrimPrefix(p.File.FileData, "data:application/pdf;base64,")}})
		default:
			return nil, reqErr(pp+".type", codeUnsupportedValue, "Anthropic channels do not support %q content parts.", p.Type)
		}
	}
	if len(blocks) == 0 {
		return nil, reqErr(param, codeInvalidValue, "A user message must not be empty.")
	}
	return blocks, nil
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func imageSource(url, param string) (*source, error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mt, enc, _ := strings.Cut(meta, ";")
		if !ok || enc != "base64" {
			return nil, reqErr(param, codeInvalidValue, "An image data URL must be base64 encoded (data:image/png;base64,...).")
		}
		if !imageTypes[mt] {
			return nil, reqErr(param, codeUnsupportedValue, "Anthropic channels accept JPEG, PNG, GIF and WebP images, not %q.", mt)
		}
		return &source{Type: "base64", MediaType: mt, Data: data}, nil
	}
	if strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") {
		return &source{Type: "url", URL: url}, nil
	}
	return nil, reqErr(param, codeInvalidValue, "An image URL must be an http(s) URL or a base64 data URL.")
}

// assistantTurn maps an assistant message; ok is false for an empty one.
func assistantTurn(m chatMessage, p string) (message, bool, error) {
	s, ps, err := parts(m.Content, p+".content")
	if err != nil {
		return message{}, false, err
	}
	if ps != nil {
		texts := make([]string, 0, len(ps))
		for j, part := range ps {
			switch part.Type {
			case "text":
				texts = append(texts, part.Text)
			case "refusal":
				texts = append(texts, part.Refusal)
			default:
				return message{}, false, reqErr(fmt.Sprintf("%s.content[%d].type", p, j), codeUnsupportedValue,
					"Assistant content parts must be text or refusal, not %q.", part.Type)
			}
		}
		s = strings.Join(texts, "\n")
	}
	if len(m.ToolCalls) == 0 {
		return message{Role: "assistant", Content: s}, s != "", nil
	}
	blocks := make([]block, 0, len(m.ToolCalls)+1)
	if s != "" {
		blocks = append(blocks, block{Type: "text", Text: s})
	}
	for j, tc := range m.ToolCalls {
		tp := fmt.Sprintf("%s.tool_calls[%d]", p, j)
		if tc.ID == "" || tc.Function.Name == "" {
			return message{}, false, reqErr(tp, codeInvalidValue, "A tool call needs an id and a function name.")
		}
		input := json.RawMessage(`{}`)
		if args := strings.TrimSpace(tc.Function.Arguments); args != "" {
			if !json.Valid([]byte(args)) || args[0] != '{' {
				return message{}, false, reqErr(tp+".function.arguments", codeInvalidValue,
					"The arguments of tool call %q are not a JSON object; Anthropic needs them parsed.", tc.ID)
			}
			input = json.RawMessage(args)
		}
		blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return message{Role: "assistant", Content: blocks}, true, nil
}
