package server

import (
	"errors"
	"net/http"

	responsesdialect "github.com/tollgate/tollgate/internal/dialect/responses"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// responsesState is what a Responses API request carries through the
// relay (in record.resp): the answer's Meta and, for a stream, its
// translator, made at the first chunk.
type responsesState struct {
	meta   responsesdialect.Meta
	stream *responsesdialect.Stream
}

// responses serves POST /v1/responses. A request whose model routes only
// to channels that serve the Responses API themselves is passed through
// as it is (responses_passthrough.go). Any other is translated into a
// chat completions request and relayed like any chat completion (routing,
// retries, failover, limits, idempotency, request log), and the answer is
// translated back into a response object or Responses stream events.
// tollgate stores no responses: on the translated path stateful
// parameters are refused (see package responses). Errors before a stream
// keep the OpenAI error shape.
func (s *Server) responses(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.responsesPassthrough(w, r, body) {
		return
	}
	tr, err := responsesdialect.TranslateRequest(body)
	if err != nil {
		var re *responsesdialect.RequestError
		if errors.As(err, &re) {
			s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: re.Code, Param: re.Param, Message: re.Message, Cause: err})
			return
		}
		s.writeError(w, r, err)
		return
	}
	rec := recordFrom(r.Context())
	rec.resp = &responsesState{meta: responsesdialect.Meta{ID: "resp_" + rec.row.RequestID, CreatedAt: rec.start.Unix(), Echo: tr.Echo}}
	s.relayBody(w, r, endpointChat, tr.Chat)
}

// body translates a non-stream chat answer into a response object. An
// answer that cannot be translated fails the attempt, like invalid JSON.
func (rs *responsesState) body(a router.Attempt, chat []byte) ([]byte, error) {
	out, err := responsesdialect.TranslateBody(chat, rs.meta)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseBody, Channel: a.Target.Channel,
			Message: "the upstream's answer cannot be translated for a Responses API client: " + err.Error(), Err: err}
	}
	return out, nil
}

// translator returns the request's stream translator.
func (rs *responsesState) translator() *responsesdialect.Stream {
	if rs.stream == nil {
		rs.stream = responsesdialect.NewStream(rs.meta)
	}
	return rs.stream
}

// The stream hooks below are called from stream_dialect.go with sr.mu held.

// writeResponsesChunk writes the Responses events of one chat chunk
// without flushing. A chunk that cannot be translated fails the attempt.
func (sr *streamRelay) writeResponsesChunk(a router.Attempt, data []byte) error {
	events, err := sr.rec.resp.translator().Chunk(data)
	if err != nil {
		return &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseIdle, Channel: a.Target.Channel,
			Message: "the upstream's stream cannot be translated for a Responses API client: " + err.Error(), Err: err}
	}
	return sr.writeResponsesEvents(events, false, false)
}

// writeResponsesEnd ends a complete stream with response.completed (or
// response.incomplete); there is no [DONE]. The answer is stored for
// Idempotency-Key replay just before its last event goes out.
func (sr *streamRelay) writeResponsesEnd() error {
	return sr.writeResponsesEvents(sr.rec.resp.translator().Done(), false, true) // flushed with the response's end (writeEnd)
}

// writeResponsesFailure reports an error after the 200 went out: an error
// event and response.failed, so no client takes the answer as complete.
func (sr *streamRelay) writeResponsesFailure(ae *apiError, body openai.ErrorResponse) error {
	code := ae.Code
	if body.Error.Code != nil {
		code = *body.Error.Code
	}
	if code == "" {
		code = typeServerError
	}
	return sr.writeResponsesEvents(sr.rec.resp.translator().Fail(body.Error.Type, code, body.Error.Message), true, false)
}

// writeResponsesEvents writes events, flushing them when final; settle
// stores a successful answer before its last event goes out.
func (sr *streamRelay) writeResponsesEvents(events []responsesdialect.Event, final, settle bool) error {
	for i, ev := range events {
		if settle && i == len(events)-1 {
			sr.s.settleSuccess(sr.r, ev.Data, nil)
		}
		if err := sr.sw.EventNoFlush(ev.Type, ev.Data); err != nil {
			return errClientWrite
		}
	}
	if final {
		return sr.sw.Flush()
	}
	return nil
}
