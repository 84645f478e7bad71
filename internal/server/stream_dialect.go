package server

import (
	"encoding/json"

	anthropicdialect "github.com/tollgate/tollgate/internal/dialect/anthropic"
	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// The stream relay works on OpenAI chunks throughout (filtering, usage,
// continuation); only what reaches the client is shaped by its dialect.
// These writers are called with sr.mu held.

// newStreamTranslator returns the chunk translator of rec's dialect, or
// nil when chunks go out as they are.
func newStreamTranslator(rec *record, rr *relayRequest) *anthropicdialect.StreamTranslator {
	if rec.dialect != dialectAnthropic || rr.passthrough() {
		return nil
	}
	return anthropicdialect.NewStreamTranslator(anthropicdialect.ResponseOptions{Model: rr.requested, ID: rec.row.RequestID})
}

// writeChunk writes one chunk (or its translation) without flushing. A
// chunk the translator cannot carry fails the attempt.
func (sr *streamRelay) writeChunk(a router.Attempt, data []byte) error {
	if sr.rec.resp != nil { // Responses API, responses.go
		return sr.writeResponsesChunk(a, data)
	}
	if sr.tr == nil {
		if sr.sw.DataNoFlush(data) != nil {
			return errClientWrite
		}
		return nil
	}
	events, err := sr.tr.Chunk(data)
	if err != nil {
		return &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseIdle, Channel: a.Target.Channel,
			Message: "the upstream's stream cannot be translated for a Messages API client: " + err.Error(), Err: err}
	}
	for _, ev := range events {
		if sr.sw.EventNoFlush(ev.Name, ev.Data) != nil {
			return errClientWrite
		}
	}
	return nil
}

// writeEnd ends a complete stream: [DONE], or message_delta and
// message_stop. The answer is stored for Idempotency-Key replay just
// before its last event goes out.
//
// The end is written but not flushed: it goes out when the handler
// returns, in one write with the end of the response (the last chunk and
// the trailers), a system call and a client wake-up fewer per stream. What
// runs before that is bookkeeping of microseconds: settling, the log row,
// and closing the upstream stream, which waits at most 20ms for an
// upstream that does not end its body (provider.DrainBody).
func (sr *streamRelay) writeEnd() error {
	if sr.rec.resp != nil { // Responses API, responses.go
		return sr.writeResponsesEnd()
	}
	if sr.rr.passthrough() {
		return sr.writeRawEnd()
	}
	if sr.tr == nil {
		sr.s.settleSuccess(sr.r, doneData, nil)
		return sr.sw.DataNoFlush(doneData)
	}
	events := sr.tr.End()
	last := len(events) - 1
	for _, ev := range events[:last] {
		if err := sr.sw.EventNoFlush(ev.Name, ev.Data); err != nil {
			return err
		}
	}
	sr.s.settleSuccess(sr.r, events[last].Data, nil)
	return sr.sw.EventNoFlush(events[last].Name, events[last].Data)
}

// doneData is the data of the event that ends an OpenAI stream.
var doneData = []byte("[DONE]")

// writeFailure reports an error after the 200 went out.
func (sr *streamRelay) writeFailure(ae *apiError, body openai.ErrorResponse) error {
	if sr.rec.resp != nil { // Responses API, responses.go
		return sr.writeResponsesFailure(ae, body)
	}
	if sr.rr.responsesPassthrough() {
		return sr.writeResponsesRawFailure(ae, body)
	}
	if sr.tr == nil && !sr.rr.passthrough() {
		data, _ := json.Marshal(body)
		return sr.sw.Data(data)
	}
	return sr.sw.Event("error", anthropicdialect.ErrorBody(ae.Status, body.Error.Message, sr.rec.row.RequestID))
}

// writeKeepAlive sends a comment, or a ping event to Anthropic clients.
func (sr *streamRelay) writeKeepAlive() error {
	if sr.tr == nil && (!sr.rr.passthrough() || sr.rr.responsesPassthrough()) {
		return sr.sw.Comment("keep-alive")
	}
	ping := anthropicdialect.Ping()
	return sr.sw.Event(ping.Name, ping.Data)
}

// replayEventName names a replayed stream event: Anthropic events repeat
// their name as the data's "type"; OpenAI events have none.
func replayEventName(rec *record, data []byte) string {
	if rec.dialect == dialectOpenAI { // Anthropic and Responses events: named by "type"
		return ""
	}
	obj, err := jsonpeek.Parse(data)
	if err != nil {
		return ""
	}
	name, _, _ := obj.String("type")
	return name
}
