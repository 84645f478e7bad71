package server

import (
	"encoding/json"
	"net/http"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// A Responses API request whose model routes only to channels that serve
// that API themselves (channel option responses: true) is passed through:
// the client's body goes to {base}/responses with only "model" patched,
// and the answer comes back as the upstream sent it, the body byte for
// byte and a stream event by event. The rest of the relay applies as for
// the Messages pass-through (messages_passthrough.go): the plan's
// attempts, hold-back before the first output delta, keep-alives,
// governance, idempotency and the request log, whose usage and finish
// reason are read from the final response object. Stateful requests
// (previous_response_id, store) are the upstream's business and pass.
// A stream broken after content ends with an "error" event only: no
// terminal event is made up.

// responsesPassthrough relays body as it is when its model qualifies. It
// reports false, having done nothing, when the request must be translated.
func (s *Server) responsesPassthrough(w http.ResponseWriter, r *http.Request, body []byte) bool {
	obj, err := jsonpeek.Parse(body)
	if err != nil {
		return false
	}
	name, ok, err := obj.String("model")
	if err != nil || !ok {
		return false
	}
	m, ok := s.opts.Routes.Resolve(name)
	if !ok || !s.routesOnly(m, servesResponses) {
		return false
	}
	s.relayBody(w, r, endpointResponses, body)
	return true
}

// servesResponses reports whether ad passes Responses API requests through.
func servesResponses(ad provider.Adapter) bool {
	ra, ok := ad.(provider.ResponsesAdapter)
	return ok && ra.ServesResponses()
}

// routesOnly reports whether every channel that may serve m, its
// fallbacks' included, has an adapter for which ok holds.
func (s *Server) routesOnly(m *router.Model, ok func(provider.Adapter) bool) bool {
	all := func(m *router.Model) bool {
		if len(m.Targets) == 0 {
			return false
		}
		for _, t := range m.Targets {
			if !ok(t.Adapter) {
				return false
			}
		}
		return true
	}
	if !all(m) {
		return false
	}
	for _, f := range m.Fallbacks {
		fm, found := s.opts.Routes.Resolve(f.Model)
		if !found || !all(fm) {
			return false
		}
	}
	return true
}

// captureResponsesAnswer copies the usage and finish reason of a response
// object into the record.
func captureResponsesAnswer(rec *record, resp jsonpeek.Object) {
	status, _, _ := resp.String("status")
	rec.row.FinishReason = responsesFinish(status, resp)
	if raw, ok := resp.Raw("usage"); ok {
		recordResponsesUsage(rec, raw)
	}
}

// responsesFinish maps a response's status to a chat finish reason.
func responsesFinish(status string, resp jsonpeek.Object) string {
	switch status {
	case "completed":
		return openai.FinishStop
	case "incomplete":
		if raw, ok := resp.Raw("incomplete_details"); ok {
			if d, err := jsonpeek.Parse(raw); err == nil {
				if reason, _, _ := d.String("reason"); reason == "content_filter" {
					return openai.FinishContentFilter
				}
			}
		}
		return openai.FinishLength
	}
	return ""
}

// recordResponsesUsage writes a Responses usage object into the log row:
// input tokens are prompt tokens, of which input_tokens_details'
// cached_tokens were cached.
func recordResponsesUsage(rec *record, raw []byte) bool {
	var u struct {
		Input        int64 `json:"input_tokens"`
		InputDetails *struct {
			Cached int64 `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		Output int64 `json:"output_tokens"`
	}
	if isNull(raw) || json.Unmarshal(raw, &u) != nil {
		return false
	}
	rec.row.PromptTokens, rec.row.CompletionTokens = u.Input, u.Output
	rec.row.CachedTokens = 0
	if u.InputDetails != nil {
		rec.row.CachedTokens = u.InputDetails.Cached
	}
	rec.row.TotalTokens = u.Input + u.Output
	return true
}

// noteResponses captures the served model, usage and finish reason from
// one Responses API event, and reports whether it is content (an output
// delta) and whether it is the terminal event.
func (sr *streamRelay) noteResponses(kind string, obj jsonpeek.Object) (content, stop bool) {
	if seq, ok, err := obj.Int("sequence_number"); ok && err == nil {
		sr.raw.seq = seq
	}
	switch kind {
	case "response.output_text.delta", "response.refusal.delta":
		if sr.rec.bodies != nil { // content is never held: it goes out now
			text, _, _ := obj.String("delta")
			sr.rec.bodies.addText(text)
		}
		return true, false
	case "response.function_call_arguments.delta":
		return true, false
	case "response.created", "response.in_progress", "response.completed", "response.incomplete":
		raw, ok := obj.Raw("response")
		if !ok {
			break
		}
		resp, err := jsonpeek.Parse(raw)
		if err != nil {
			break
		}
		if served, ok, _ := resp.String("model"); ok && sr.rec.row.ModelServed == "" {
			sr.rec.row.ModelServed = clip(served, 200)
		}
		if kind == "response.completed" || kind == "response.incomplete" {
			captureResponsesAnswer(sr.rec, resp)
			return false, true
		}
	}
	return false, false
}

// writeResponsesRawFailure reports an error after the 200 went out in a
// passed-through stream: one "error" event, and no terminal event, so no
// client takes the answer as complete.
func (sr *streamRelay) writeResponsesRawFailure(ae *apiError, body openai.ErrorResponse) error {
	code := ae.Code
	if body.Error.Code != nil {
		code = *body.Error.Code
	}
	if code == "" {
		code = typeServerError
	}
	type detail struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	data, err := json.Marshal(struct {
		Type    string  `json:"type"`
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Param   *string `json:"param"`
		Error   detail  `json:"error"`
		Seq     int64   `json:"sequence_number"`
	}{"error", code, body.Error.Message, nil, detail{body.Error.Type, code, body.Error.Message}, sr.raw.seq + 1})
	if err != nil {
		return err
	}
	return sr.sw.Event("error", data)
}
