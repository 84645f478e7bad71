package simupstream

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// This file is the simulator's native Responses API: POST /v1/responses
// answered with a response object or its stream events, with the same
// deterministic text answer as chat completions for the same model, last
// user text and length, and the same faults: status faults carry OpenAI
// error bodies, "no_done" leaves out the terminal event and "no_usage"
// leaves out usage. Text answers only: tools are ignored.

// responsesRequest is the part of a Responses API request the simulator reads.
type responsesRequest struct {
	Model           string          `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	MaxOutputTokens int             `json:"max_output_tokens"`
	Stream          bool            `json:"stream"`
}

// serveResponses answers POST /v1/responses.
func (s *Simulator) serveResponses(w http.ResponseWriter, r *http.Request, id string) {
	var req responsesRequest
	raw, ok := decodeBody(w, r, &req)
	defer putBuf(raw)
	if !ok {
		return
	}
	if req.Model == "" {
		badRequest(w, "model", "missing_required_parameter", "Missing required parameter: 'model'.")
		return
	}
	msgs, err := responsesInput(req.Instructions, req.Input)
	if err != nil {
		badRequest(w, "input", "invalid_value", "Invalid 'input': "+err.Error())
		return
	}
	c := s.begin(req.Model, id, raw.Bytes())
	if !preamble(w, r, c) {
		return
	}
	toks, finish := answerTokens(req.Model, lastUserText(msgs), c.profile.Length, req.MaxOutputTokens)
	a := &responsesAnswer{id: id, model: req.Model, created: c.created, pieces: toks,
		input: chatPromptTokens(msgs), usage: c.fault.Kind != FaultNoUsage, incomplete: finish == openai.FinishLength}
	if req.Stream {
		runResponsesStream(w, r, c, a)
		return
	}
	respond(w, r, c, a.object(true))
}

// responsesInput views instructions and input as chat messages: a string
// input is one user message; an item list gives its messages, content as a
// string or text parts.
func responsesInput(instructions string, raw json.RawMessage) ([]openai.ChatMessage, error) {
	var msgs []openai.ChatMessage
	if instructions != "" {
		msgs = append(msgs, openai.ChatMessage{Role: openai.RoleSystem, Content: openai.StringContent(instructions)})
	}
	if len(raw) == 0 || string(raw) == "null" {
		return msgs, nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return append(msgs, openai.ChatMessage{Role: openai.RoleUser, Content: openai.StringContent(text)}), nil
	}
	var items []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Role == "" {
			continue // function calls and their outputs
		}
		msgs = append(msgs, openai.ChatMessage{Role: it.Role, Content: openai.StringContent(partsText(it.Content))})
	}
	return msgs, nil
}

// partsText is a string content itself, or its text parts joined by "\n".
func partsText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// responsesAnswer is what one request is answered with.
type responsesAnswer struct {
	id, model  string
	created    int64
	pieces     []string
	input      int64
	usage      bool
	incomplete bool // max_output_tokens cut the answer short
}

func (a *responsesAnswer) status() string {
	if a.incomplete {
		return "incomplete"
	}
	return "completed"
}

// message is the output message item; done says whether it is complete.
func (a *responsesAnswer) message(done bool) map[string]any {
	status, content := "in_progress", []any{}
	if done {
		status = a.status()
		content = []any{a.part(true)}
	}
	return map[string]any{"type": "message", "id": "msg_sim_" + a.id, "status": status, "role": "assistant", "content": content}
}

func (a *responsesAnswer) part(done bool) map[string]any {
	text := ""
	if done {
		text = strings.Join(a.pieces, "")
	}
	return map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
}

// object is the response object, in progress or done.
func (a *responsesAnswer) object(done bool) map[string]any {
	o := map[string]any{"id": "resp_sim_" + a.id, "object": "response", "created_at": a.created, "model": a.model,
		"status": "in_progress", "output": []any{}, "usage": nil, "incomplete_details": nil, "error": nil}
	if !done {
		return o
	}
	o["status"] = a.status()
	o["output"] = []any{a.message(true)}
	if a.incomplete {
		o["incomplete_details"] = map[string]string{"reason": "max_output_tokens"}
	}
	if a.usage {
		out := int64(len(a.pieces))
		o["usage"] = map[string]any{"input_tokens": a.input, "input_tokens_details": map[string]int64{"cached_tokens": 0},
			"output_tokens": out, "output_tokens_details": map[string]int64{"reasoning_tokens": 0}, "total_tokens": a.input + out}
	}
	return o
}

// runResponsesStream sends the answer as Responses API events in the
// documented order: response.created, response.in_progress, the message
// item and its text part opened, one response.output_text.delta per token
// (faults injected among them), both closed again, and
// response.completed (response.incomplete when max_output_tokens cut it).
func runResponsesStream(w http.ResponseWriter, r *http.Request, c *call, a *responsesAnswer) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	st := &streamer{w: w, rc: http.NewResponseController(w), ctx: r.Context(), buf: make([]byte, 0, 256)}
	seq := 0
	ev := func(name string, fields map[string]any) bool {
		fields["type"], fields["sequence_number"] = name, seq
		seq++
		data, err := json.Marshal(fields)
		if err != nil {
			panic(err) // only our own values are encoded
		}
		b := append(st.buf, "event: "...)
		b = append(b, name...)
		b = append(b, "\ndata: "...)
		b = append(b, data...)
		return st.send(append(b, "\n\n"...)) == nil
	}
	itemID := "msg_sim_" + a.id
	if !ev("response.created", map[string]any{"response": a.object(false)}) ||
		!ev("response.in_progress", map[string]any{"response": a.object(false)}) ||
		!ev("response.output_item.added", map[string]any{"output_index": 0, "item": a.message(false)}) ||
		!ev("response.content_part.added", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": a.part(false)}) {
		return
	}
	delay := c.profile.FirstTokenDelay
	if c.fault.Kind == FaultSlowFirstToken {
		delay += c.fault.Delay
	}
	if sleep(st.ctx, delay) != nil {
		return
	}
	var interval time.Duration
	if tps := c.profile.TokensPerSecond; tps > 0 {
		interval = time.Duration(float64(time.Second) / tps)
	}
	at := min(max(c.fault.After, 0), len(a.pieces))
	for i := 0; ; i++ {
		if i == at && !st.midStreamFault(c.fault) {
			return
		}
		if i == len(a.pieces) {
			break
		}
		if i > 0 && sleep(st.ctx, interval) != nil {
			return
		}
		if !ev("response.output_text.delta", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0,
			"delta": a.pieces[i], "logprobs": []any{}}) {
			return
		}
	}
	text := strings.Join(a.pieces, "")
	if !ev("response.output_text.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "text": text, "logprobs": []any{}}) ||
		!ev("response.content_part.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": a.part(true)}) ||
		!ev("response.output_item.done", map[string]any{"output_index": 0, "item": a.message(true)}) {
		return
	}
	if c.fault.Kind != FaultNoDone {
		ev("response."+a.status(), map[string]any{"response": a.object(true)})
	}
}
