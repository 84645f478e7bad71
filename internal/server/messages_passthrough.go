package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	anthropicdialect "github.com/tollgate/tollgate/internal/dialect/anthropic"
	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// A Messages API request whose model routes only to channels that speak
// that API is passed through: the client's body goes upstream with only
// "model" patched, and the answer comes back as the upstream sent it, the
// body byte for byte and a stream event by event. Everything else of the
// relay applies unchanged: the plan's attempts, hold-back before content,
// keep-alives (as ping events), governance, idempotency and the request
// log, whose usage and finish reason are read from the Anthropic answer.
// Continuation does not apply: a stream broken after content ends with an
// "error" event and no message_stop.

// messagesPassthrough relays body as it is when its model qualifies. It
// reports false, having done nothing, when the request must be translated.
func (s *Server) messagesPassthrough(w http.ResponseWriter, r *http.Request, body []byte) bool {
	obj, err := jsonpeek.Parse(body)
	if err != nil {
		return false
	}
	name, ok, err := obj.String("model")
	if err != nil || !ok {
		return false
	}
	m, ok := s.opts.Routes.Resolve(name)
	if !ok || !s.speaksMessages(m) {
		return false
	}
	s.relayBody(w, r, endpointMessages, body)
	return true
}

// speaksMessages reports whether every channel that may serve m, its
// fallbacks' included, speaks the Messages API.
func (s *Server) speaksMessages(m *router.Model) bool {
	if !targetsSpeakMessages(m) {
		return false
	}
	for _, f := range m.Fallbacks {
		fm, ok := s.opts.Routes.Resolve(f.Model)
		if !ok || !targetsSpeakMessages(fm) {
			return false
		}
	}
	return true
}

func targetsSpeakMessages(m *router.Model) bool {
	if len(m.Targets) == 0 {
		return false
	}
	for _, t := range m.Targets {
		if _, ok := t.Adapter.(provider.MessagesAdapter); !ok {
			return false
		}
	}
	return true
}

// messagesTokens are the counts of an Anthropic usage object; a
// message_delta carries only the counts that changed.
type messagesTokens struct {
	input, cacheCreation, cacheRead, output int64
}

// merge takes the counts present in the usage object raw.
func (t *messagesTokens) merge(raw []byte) bool {
	var u struct {
		Input         *int64 `json:"input_tokens"`
		CacheCreation *int64 `json:"cache_creation_input_tokens"`
		CacheRead     *int64 `json:"cache_read_input_tokens"`
		Output        *int64 `json:"output_tokens"`
	}
	if isNull(raw) || json.Unmarshal(raw, &u) != nil {
		return false
	}
	for _, f := range []struct {
		dst *int64
		src *int64
	}{{&t.input, u.Input}, {&t.cacheCreation, u.CacheCreation}, {&t.cacheRead, u.CacheRead}, {&t.output, u.Output}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return true
}

// record writes the counts into the log row in tollgate's terms: every
// input token is a prompt token, cache reads are the cached ones.
func (t messagesTokens) record(rec *record) {
	rec.row.PromptTokens = t.input + t.cacheCreation + t.cacheRead
	rec.row.CachedTokens = t.cacheRead
	rec.row.CompletionTokens = t.output
	rec.row.TotalTokens = rec.row.PromptTokens + rec.row.CompletionTokens
}

// captureMessagesAnswer copies the usage and finish reason of a
// non-stream Messages answer into the record.
func captureMessagesAnswer(rec *record, obj jsonpeek.Object) {
	if stop, ok, _ := obj.String("stop_reason"); ok {
		rec.row.FinishReason = anthropicdialect.FinishReason(stop)
	}
	var t messagesTokens
	if raw, ok := obj.Raw("usage"); ok && t.merge(raw) {
		t.record(rec)
	}
}

// rawState is a passed-through stream's state.
type rawState struct {
	held   []rawEvent // events of the current attempt before its first content
	final  rawEvent   // message_stop, sent when the stream completes
	tokens messagesTokens
	seq    int64 // the last sequence_number of a Responses API stream
}

// rawEvent is a copy of an upstream event.
type rawEvent struct {
	name string
	data []byte
}

// forwardRaw copies one upstream Messages stream to the client, event by
// event. Events before the first delta are held back, so an attempt that
// fails before content is retried unseen; message_stop is kept for
// complete. The provider stream ends with io.EOF only after message_stop.
func (sr *streamRelay) forwardRaw(ctx context.Context, a router.Attempt, st provider.Stream) error {
	sr.raw.held, sr.raw.final, sr.raw.tokens = sr.raw.held[:0], rawEvent{}, messagesTokens{}
	pending, _ := st.(pendingStream)
	for {
		if sr.unflushed && (pending == nil || !pending.Pending()) {
			if err := sr.flush(); err != nil {
				return err
			}
		}
		ev, err := st.Next(ctx)
		if errors.Is(err, io.EOF) {
			if sr.raw.final.data == nil {
				msg := "the upstream closed the stream without the message_stop event"
				if sr.rr.responsesPassthrough() {
					msg = "the upstream closed the stream without a response.completed or response.incomplete event"
				}
				return &provider.Error{Kind: provider.KindTruncated, Phase: provider.PhaseIdle, Channel: a.Target.Channel, Message: msg}
			}
			return nil
		}
		if err != nil {
			return err
		}
		content, stop, ok := sr.noteRaw(a, ev)
		switch {
		case !ok:
			continue
		case stop:
			sr.raw.final = rawEvent{name: ev.Name, data: append([]byte(nil), ev.Data...)}
			continue
		case !sr.content && !content:
			sr.raw.held = append(sr.raw.held, rawEvent{name: ev.Name, data: append([]byte(nil), ev.Data...)})
			continue
		}
		if err := sr.sendRaw(a, ev, content); err != nil {
			return err
		}
	}
}

// noteRaw captures what the request log needs from one event: the served
// model, usage and finish reason. It reports whether the event is content
// (a delta), whether it is the terminal event (message_stop, or a
// Responses API response.completed|incomplete), and false for an event
// that is not JSON, which is skipped and logged: garbage never reaches
// the client.
func (sr *streamRelay) noteRaw(a router.Attempt, ev provider.Event) (content, stop, ok bool) {
	obj := sr.obj
	if err := jsonpeek.ParseInto(obj, ev.Data); err != nil {
		sr.s.log.Warn("skipping malformed upstream stream event", "request_id", sr.rec.row.RequestID, "key_id", sr.rec.row.KeyID,
			"model", sr.rec.row.ModelRequested, "channel", a.Target.Channel, "attempt", a.N, "error", err)
		return false, false, false
	}
	kind := ev.Name
	if kind == "" {
		kind, _, _ = obj.String("type")
	}
	if sr.rr.responsesPassthrough() {
		content, stop = sr.noteResponses(kind, *obj)
		return content, stop, true
	}
	switch kind {
	case "message_start":
		raw, ok := obj.Raw("message")
		if !ok {
			break
		}
		msg, err := jsonpeek.Parse(raw)
		if err != nil {
			break
		}
		if served, ok, _ := msg.String("model"); ok && sr.rec.row.ModelServed == "" {
			sr.rec.row.ModelServed = clip(served, 200)
		}
		if u, ok := msg.Raw("usage"); ok && sr.raw.tokens.merge(u) {
			sr.raw.tokens.record(sr.rec)
		}
	case "message_delta":
		if u, ok := obj.Raw("usage"); ok && sr.raw.tokens.merge(u) {
			sr.raw.tokens.record(sr.rec)
		}
		if raw, ok := obj.Raw("delta"); ok {
			if delta, err := jsonpeek.Parse(raw); err == nil {
				if reason, ok, _ := delta.String("stop_reason"); ok {
					sr.rec.row.FinishReason = anthropicdialect.FinishReason(reason)
				}
			}
		}
		return true, false, true
	case "content_block_delta":
		if sr.rec.bodies != nil { // content is never held: it goes out now
			sr.rec.bodies.addText(deltaText(*obj))
		}
		return true, false, true
	case "message_stop":
		return false, true, true
	}
	return false, false, true
}

// sendRaw writes the held events and ev, committing the headers first.
func (sr *streamRelay) sendRaw(a router.Attempt, ev provider.Event, content bool) error {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if !sr.committed {
		sr.commitLocked(&a)
	}
	for _, h := range sr.raw.held {
		if sr.sw.EventNoFlush(h.name, h.data) != nil {
			return errClientWrite
		}
	}
	sr.raw.held = sr.raw.held[:0]
	if sr.sw.EventNoFlush(ev.Name, ev.Data) != nil {
		return errClientWrite
	}
	sr.unflushed = true
	if !sr.content {
		sr.rec.row.TTFT = sr.s.opts.Now().Sub(sr.rec.start)
	}
	sr.content = true
	if content {
		sr.rec.contentChunks++
	}
	sr.resetKeepAliveLocked()
	return nil
}

// writeRawEnd ends a complete passed-through stream with what is still
// held and message_stop; the answer is stored for Idempotency-Key replay
// just before message_stop goes out. Called with sr.mu held.
func (sr *streamRelay) writeRawEnd() error {
	for _, h := range sr.raw.held {
		if err := sr.sw.EventNoFlush(h.name, h.data); err != nil {
			return err
		}
	}
	sr.raw.held = sr.raw.held[:0]
	sr.s.settleSuccess(sr.r, sr.raw.final.data, nil)
	return sr.sw.EventNoFlush(sr.raw.final.name, sr.raw.final.data)
}

// deltaText is the text of a content_block_delta's text_delta, or "".
func deltaText(obj jsonpeek.Object) string {
	raw, ok := obj.Raw("delta")
	if !ok {
		return ""
	}
	delta, err := jsonpeek.Parse(raw)
	if err != nil {
		return ""
	}
	text, _, _ := delta.String("text")
	return text
}
