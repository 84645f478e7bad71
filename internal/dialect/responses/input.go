package responses

import (
	"encoding/json"
	"fmt"
	"strings"
)

// chatMessage is one message of the translated chat request.
type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Refusal    string          `json:"refusal,omitempty"`
	ToolCalls  []chatToolCall  `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// inputItem is one entry of an input array, of any item type.
type inputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

// inputPart is one content part of a message item.
type inputPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL string `json:"image_url"`
	FileID   string `json:"file_id"`
	FileData string `json:"file_data"`
	FileURL  string `json:"file_url"`
	Filename string `json:"filename"`
	Detail   string `json:"detail"`
}

// translateInput converts input (a string or an array of items) to chat
// messages. Consecutive function_call items become one assistant message
// with several tool calls, joined to an assistant message right before.
func translateInput(raw json.RawMessage) ([]chatMessage, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []chatMessage{{Role: "user", Content: jsonString(s)}}, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, invalid("input", "a string or an array of input items")
	}
	msgs := make([]chatMessage, 0, len(items))
	for i, rawItem := range items {
		param := fmt.Sprintf("input[%d]", i)
		var it inputItem
		if err := decode(rawItem, &it, param, "an input item object"); err != nil {
			return nil, err
		}
		var err error
		switch it.Type {
		case "", "message":
			var m chatMessage
			if m, err = messageItem(it, param); err == nil {
				msgs = append(msgs, m)
			}
		case "function_call":
			msgs, err = appendCall(msgs, it, param)
		case "function_call_output":
			var m chatMessage
			if m, err = callOutput(it, param); err == nil {
				msgs = append(msgs, m)
			}
		case "reasoning":
			// Chat completions has no place for earlier reasoning: dropped.
		case "item_reference":
			err = reqErr(param, CodeUnsupportedValue, "tollgate does not store items, so it cannot resolve an item_reference. Send the item itself.")
		default:
			err = reqErr(param+".type", CodeUnsupportedValue, "tollgate serves the Responses API by translating it to chat completions and cannot replay %q items; only messages, function_call and function_call_output items are supported.", it.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// messageItem converts a role message.
func messageItem(it inputItem, param string) (chatMessage, error) {
	switch it.Role {
	case "user", "system", "developer", "assistant":
	case "":
		return chatMessage{}, reqErr(param+".role", CodeMissingParameter, "A message item needs a role: user, assistant, system or developer.")
	default:
		return chatMessage{}, reqErr(param+".role", CodeInvalidValue, "role must be user, assistant, system or developer, not %q.", it.Role)
	}
	m := chatMessage{Role: it.Role}
	var s string
	if json.Unmarshal(it.Content, &s) == nil {
		m.Content = jsonString(s)
		return m, nil
	}
	var parts []inputPart
	if err := decode(it.Content, &parts, param+".content", "a string or an array of content parts"); err != nil {
		return m, err
	}
	if it.Role == "user" {
		return userParts(m, parts, param)
	}
	// System, developer and assistant content becomes one string, the form
	// every chat upstream accepts.
	var text strings.Builder
	for j, p := range parts {
		switch {
		case p.Type == "input_text" || p.Type == "output_text" || p.Type == "text":
			text.WriteString(p.Text)
		case p.Type == "refusal" && it.Role == "assistant":
			m.Refusal += p.Refusal
		default:
			return m, reqErr(fmt.Sprintf("%s.content[%d].type", param, j), CodeUnsupportedValue, "A %s message can only hold text parts, not %q.", it.Role, p.Type)
		}
	}
	m.Content = jsonString(text.String())
	if it.Role == "assistant" && text.Len() == 0 {
		m.Content = json.RawMessage("null")
	}
	return m, nil
}

// userParts converts a user message's parts to chat content parts.
func userParts(m chatMessage, parts []inputPart, param string) (chatMessage, error) {
	out := make([]map[string]any, 0, len(parts))
	for j, p := range parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case "input_text", "text":
			out = append(out, map[string]any{"type": "text", "text": p.Text})
		case "input_image":
			if p.ImageURL == "" {
				return m, reqErr(pp+".image_url", CodeUnsupportedValue, "tollgate cannot fetch uploaded files by file_id; send the image as image_url (an https URL or a data: URL).")
			}
			img := map[string]string{"url": p.ImageURL}
			if p.Detail != "" {
				img["detail"] = p.Detail
			}
			out = append(out, map[string]any{"type": "image_url", "image_url": img})
		case "input_file":
			if p.FileURL != "" {
				return m, reqErr(pp+".file_url", CodeUnsupportedValue, "tollgate cannot translate file_url; send the file as file_data.")
			}
			file := map[string]string{}
			for k, v := range map[string]string{"file_id": p.FileID, "file_data": p.FileData, "filename": p.Filename} {
				if v != "" {
					file[k] = v
				}
			}
			out = append(out, map[string]any{"type": "file", "file": file})
		default:
			return m, reqErr(pp+".type", CodeUnsupportedValue, "A user message part must be input_text, input_image or input_file, not %q.", p.Type)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return m, invalid(param+".content", "an array of content parts")
	}
	m.Content = b
	return m, nil
}

// appendCall adds a function_call item as a tool call of an assistant
// message: the previous one when it is an assistant message, else a new one.
func appendCall(msgs []chatMessage, it inputItem, param string) ([]chatMessage, error) {
	if it.CallID == "" {
		return nil, reqErr(param+".call_id", CodeMissingParameter, "A function_call item needs its call_id.")
	}
	if it.Name == "" {
		return nil, reqErr(param+".name", CodeMissingParameter, "A function_call item needs the function's name.")
	}
	tc := chatToolCall{ID: it.CallID, Type: "function"}
	tc.Function.Name, tc.Function.Arguments = it.Name, it.Arguments
	if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
		msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, tc)
		return msgs, nil
	}
	return append(msgs, chatMessage{Role: "assistant", Content: json.RawMessage("null"), ToolCalls: []chatToolCall{tc}}), nil
}

// callOutput converts a function_call_output item to a tool message.
func callOutput(it inputItem, param string) (chatMessage, error) {
	if it.CallID == "" {
		return chatMessage{}, reqErr(param+".call_id", CodeMissingParameter, "A function_call_output item needs the call_id of its function_call.")
	}
	m := chatMessage{Role: "tool", ToolCallID: it.CallID}
	var s string
	if json.Unmarshal(it.Output, &s) == nil {
		m.Content = jsonString(s)
		return m, nil
	}
	var parts []inputPart
	if err := decode(it.Output, &parts, param+".output", "a string or an array of input_text parts"); err != nil {
		return m, err
	}
	var text strings.Builder
	for j, p := range parts {
		if p.Type != "input_text" && p.Type != "output_text" {
			return m, reqErr(fmt.Sprintf("%s.output[%d].type", param, j), CodeUnsupportedValue, "tollgate can only pass text function outputs to chat completions, not %q.", p.Type)
		}
		text.WriteString(p.Text)
	}
	m.Content = jsonString(text.String())
	return m, nil
}
