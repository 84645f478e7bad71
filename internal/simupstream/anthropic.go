package simupstream

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// This file is the simulator's Anthropic dialect: POST /v1/messages answered
// in the Messages API format (PROTOCOLS.md §4), with the same deterministic
// answers as the OpenAI dialect for the same model, last user text and
// length, and the same faults: status faults carry Anthropic error bodies
// (429 rate_limit_error, 529 overloaded_error, ...), "no_done" leaves out
// message_stop and "no_usage" leaves out every usage object.

// anthropicRequest is the part of a Messages API request the simulator reads.
type anthropicRequest struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name string `json:"name"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	Stream bool `json:"stream"`
}

type anthropicBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

// serveMessages answers POST /v1/messages.
func (s *Simulator) serveMessages(w http.ResponseWriter, r *http.Request, id string) {
	w.Header().Set("Request-Id", "req_sim_"+id)
	var req anthropicRequest
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes)); err != nil {
		writeAnthropicError(w, http.StatusRequestEntityTooLarge, "request_too_large", "Request body is too large or unreadable.")
		return
	}
	if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", "Invalid JSON body: "+err.Error())
		return
	}
	switch {
	case req.Model == "":
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	case req.MaxTokens < 1:
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required (at least 1)")
		return
	case len(req.Messages) == 0:
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", "messages: at least one message is required")
		return
	}
	msgs := anthropicAsChat(&req)
	c := s.begin(req.Model, id, buf.Bytes())
	if !anthropicPreamble(w, r, c) {
		return
	}
	prefill, isPrefill := prefillText(msgs)
	if isPrefill && c.profile.RejectPrefill {
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", prefillMessage)
		return
	}
	prompt := lastUserText(msgs)
	a := &anthropicAnswer{id: "msg_sim_" + id, model: req.Model, input: chatPromptTokens(msgs), usage: c.fault.Kind != FaultNoUsage}
	if name, ok := anthropicTool(&req); ok {
		tc := makeToolCall(req.Model, prompt, name)
		a.tool = &tc
		a.pieces = splitFragments(tc.args)
		a.output, a.stop = int64(len(a.pieces)+1), "tool_use"
	} else {
		toks, finish := answerTokens(req.Model, prompt, c.profile.Length, req.MaxTokens)
		if isPrefill {
			toks = continueAnswer(toks, prefill)
		}
		a.pieces, a.output, a.stop = toks, int64(len(toks)), "end_turn"
		if finish == openai.FinishLength {
			a.stop = "max_tokens"
		}
	}
	if req.Stream {
		runAnthropicStream(w, r, c, a)
		return
	}
	respond(w, r, c, a.message())
}

// anthropicAsChat views the request as OpenAI messages, so the dialect
// shares prompt, prefill and token rules with the OpenAI one. A user turn
// of only tool results plays the part of OpenAI tool messages.
func anthropicAsChat(req *anthropicRequest) []openai.ChatMessage {
	msgs := make([]openai.ChatMessage, 0, len(req.Messages)+1)
	if sys := blocksText(req.System); sys != "" {
		msgs = append(msgs, openai.ChatMessage{Role: openai.RoleSystem, Content: openai.StringContent(sys)})
	}
	for _, m := range req.Messages {
		cm := openai.ChatMessage{Role: m.Role, Content: openai.StringContent(blocksText(m.Content))}
		var blocks []anthropicBlock
		if json.Unmarshal(m.Content, &blocks) == nil && len(blocks) > 0 {
			results := 0
			for _, b := range blocks {
				switch b.Type {
				case "tool_use":
					cm.ToolCalls = append(cm.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function",
						Function: openai.FunctionCall{Name: b.Name, Arguments: string(b.Input)}})
				case "tool_result":
					results++
				}
			}
			if results == len(blocks) {
				cm.Role = openai.RoleTool
			}
		}
		msgs = append(msgs, cm)
	}
	return msgs
}

// blocksText is a string content itself, or its text blocks joined by "\n".
func blocksText(raw json.RawMessage) string {
	return openai.ChatMessage{Content: raw}.Text()
}

// anthropicTool returns the tool to call, if the request offers tools and
// tool_choice does not forbid them.
func anthropicTool(req *anthropicRequest) (string, bool) {
	if len(req.Tools) == 0 || req.Tools[0].Name == "" {
		return "", false
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "none":
			return "", false
		case "tool":
			if tc.Name != "" {
				return tc.Name, true
			}
		}
	}
	return req.Tools[0].Name, true
}

// anthropicAnswer is what one request is answered with.
type anthropicAnswer struct {
	id, model     string
	tool          *toolCall // nil for a text answer
	pieces        []string  // text tokens or argument fragments
	stop          string
	input, output int64
	usage         bool
}

func (a *anthropicAnswer) toolID() string { return "toolu_" + strings.TrimPrefix(a.tool.id, "call_") }

func (a *anthropicAnswer) usageJSON(input, output int64) map[string]int64 {
	return map[string]int64{"input_tokens": input, "output_tokens": output,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
}

func (a *anthropicAnswer) message() map[string]any {
	var content []anthropicBlock
	if a.tool != nil {
		content = []anthropicBlock{{Type: "tool_use", ID: a.toolID(), Name: a.tool.name, Input: json.RawMessage(a.tool.args)}}
	} else {
		content = []anthropicBlock{{Type: "text", Text: strings.Join(a.pieces, "")}}
	}
	m := map[string]any{"id": a.id, "type": "message", "role": "assistant", "model": a.model,
		"content": content, "stop_reason": a.stop, "stop_sequence": nil}
	if a.usage {
		m["usage"] = a.usageJSON(a.input, a.output)
	}
	return m
}

// anthropicPreamble is preamble with Anthropic-shaped status faults.
func anthropicPreamble(w http.ResponseWriter, r *http.Request, c *call) bool {
	if c.fault.Kind != FaultStatus {
		return preamble(w, r, c)
	}
	if sleep(r.Context(), c.profile.Latency) != nil {
		return false
	}
	f := c.fault
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	typ, msg := anthropicFaultBody(status, c.model, f)
	writeAnthropicError(w, status, typ, msg)
	return false
}

// anthropicFaultBody is the error type and message Anthropic sends for status.
func anthropicFaultBody(status int, model string, f Fault) (typ, msg string) {
	switch {
	case status == http.StatusTooManyRequests:
		typ, msg = "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit for "+model+" (simulated)."
	case status == 529:
		typ, msg = "overloaded_error", "Overloaded (simulated)"
	case status == http.StatusUnauthorized:
		typ, msg = "authentication_error", "invalid x-api-key (simulated)"
	case status == http.StatusPaymentRequired:
		typ, msg = "billing_error", "Your credit balance is too low (simulated)."
	case status == http.StatusForbidden:
		typ, msg = "permission_error", "Your API key does not have permission to use "+model+" (simulated)."
	case status == http.StatusNotFound:
		typ, msg = "not_found_error", "model: "+model
	case status == http.StatusGatewayTimeout:
		typ, msg = "timeout_error", "Request timed out (simulated)."
	case status >= 500:
		typ, msg = "api_error", "Internal server error (simulated)."
	default:
		typ, msg = "invalid_request_error", "Invalid request (simulated)."
	}
	if f.Code == "context_length_exceeded" {
		msg = "prompt is too long: 9000 tokens > 8192 maximum"
	}
	if f.Message != "" {
		msg = f.Message
	}
	return typ, msg
}

func writeAnthropicError(w http.ResponseWriter, status int, typ, msg string) {
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	writeValue(w, status, struct {
		Type      string `json:"type"`
		Error     detail `json:"error"`
		RequestID string `json:"request_id"`
	}{"error", detail{typ, msg}, "req_sim"})
}

// runAnthropicStream sends the answer as Messages API events: message_start,
// one content block with its deltas (faults injected among them), a ping,
// message_delta and message_stop.
func runAnthropicStream(w http.ResponseWriter, r *http.Request, c *call, a *anthropicAnswer) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	st := &streamer{w: w, rc: http.NewResponseController(w), ctx: r.Context(), buf: make([]byte, 0, 256)}
	ev := func(name string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			panic(err) // only our own values are encoded
		}
		b := append(st.buf, "event: "...)
		b = append(b, name...)
		b = append(b, "\ndata: "...)
		b = append(b, data...)
		return st.send(append(b, "\n\n"...)) == nil
	}
	msg := map[string]any{"id": a.id, "type": "message", "role": "assistant", "content": []any{}, "model": a.model,
		"stop_reason": nil, "stop_sequence": nil}
	if a.usage {
		msg["usage"] = a.usageJSON(a.input, 1)
	}
	block := map[string]any{"type": "text", "text": ""}
	if a.tool != nil {
		block = map[string]any{"type": "tool_use", "id": a.toolID(), "name": a.tool.name, "input": map[string]any{}}
	}
	if !ev("message_start", map[string]any{"type": "message_start", "message": msg}) ||
		!ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": block}) ||
		!ev("ping", map[string]string{"type": "ping"}) {
		return
	}
	delay := c.profile.FirstTokenDelay
	if c.fault.Kind == FaultSlowFirstToken {
		delay += c.fault.Delay
	}
	if sleep(st.ctx, delay) != nil || !sendAnthropicPieces(st, c, a, ev) {
		return
	}
	delta := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": a.stop, "stop_sequence": nil}}
	if a.usage {
		delta["usage"] = map[string]int64{"output_tokens": a.output}
	}
	if !ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) || !ev("message_delta", delta) {
		return
	}
	if c.fault.Kind != FaultNoDone {
		ev("message_stop", map[string]string{"type": "message_stop"})
	}
}

// sendAnthropicPieces sends the deltas, paced, with the mid-stream fault.
func sendAnthropicPieces(st *streamer, c *call, a *anthropicAnswer, ev func(string, any) bool) bool {
	var interval time.Duration
	if tps := c.profile.TokensPerSecond; tps > 0 {
		interval = time.Duration(float64(time.Second) / tps)
	}
	at := min(max(c.fault.After, 0), len(a.pieces))
	for i := 0; ; i++ {
		if i == at && !st.midStreamFault(c.fault) {
			return false
		}
		if i == len(a.pieces) {
			return true
		}
		if i > 0 && sleep(st.ctx, interval) != nil {
			return false
		}
		d := map[string]string{"type": "text_delta", "text": a.pieces[i]}
		if a.tool != nil {
			d = map[string]string{"type": "input_json_delta", "partial_json": a.pieces[i]}
		}
		if !ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": d}) {
			return false
		}
	}
}
