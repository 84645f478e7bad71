package server

import (
	"encoding/json"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/store"
)

// defaultLogBodyMaxBytes is Options.LogBodyMaxBytes when it is not set.
const defaultLogBodyMaxBytes = 64 << 10

// bodyLog keeps the request body and the answer of a request whose key
// has log_bodies on, each cut at limit bytes, for the request log row and
// nothing else: bodies never go to slog, metrics or traces. A request of
// any other key has no bodyLog (record.bodies is nil), so the hot path
// pays one nil check. It is used by the request's goroutine only.
type bodyLog struct {
	limit             int
	req, answer       []byte
	reqCut, answerCut bool
}

// keepBodies starts keeping the bodies of r, whose key has log_bodies on:
// the request body is copied as the handler reads it.
func (s *Server) keepBodies(r *http.Request, rec *record) {
	limit := s.opts.LogBodyMaxBytes
	if limit <= 0 {
		limit = defaultLogBodyMaxBytes
	}
	rec.bodies = &bodyLog{limit: limit}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &bodyTee{ReadCloser: r.Body, log: rec.bodies}
	}
}

// bodyTee copies what is read from a request body into its bodyLog.
type bodyTee struct {
	io.ReadCloser
	log *bodyLog
}

func (t *bodyTee) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.log.req, t.log.reqCut = appendCapped(t.log.req, t.log.reqCut, p[:n], t.log.limit)
	return n, err
}

// appendCapped appends p to buf as far as limit allows; cut reports
// whether anything was ever left out.
func appendCapped(buf []byte, cut bool, p []byte, limit int) ([]byte, bool) {
	room := limit - len(buf)
	if len(p) > room {
		return append(buf, p[:max(room, 0)]...), true
	}
	return append(buf, p...), cut
}

// setAnswer keeps a non-stream answer: the body sent to the client.
func (b *bodyLog) setAnswer(body []byte) {
	b.answer, b.answerCut = appendCapped(b.answer[:0], false, body, b.limit)
}

// answerChunk is what the answer text needs from a stream chunk: the
// content delta of a chat chunk, or the text of a completions chunk.
type answerChunk struct {
	Choices []struct {
		Index int    `json:"index"`
		Text  string `json:"text"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
}

// addChunk appends the answer text of a chunk sent to the client (in
// OpenAI form): the first choice's content, so the stored answer is the
// text the client assembled.
func (b *bodyLog) addChunk(data []byte) {
	var c answerChunk
	if json.Unmarshal(data, &c) != nil {
		return
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		b.addText(ch.Delta.Content)
		b.addText(ch.Text)
	}
}

// addText appends answer text.
func (b *bodyLog) addText(s string) {
	if s == "" || (b.answerCut && len(b.answer) >= b.limit) {
		return
	}
	room := b.limit - len(b.answer)
	if len(s) > room {
		b.answer, b.answerCut = append(b.answer, s[:max(room, 0)]...), true
		return
	}
	b.answer = append(b.answer, s...)
}

// fill copies the kept bodies into row. A body cut inside a UTF-8
// sequence loses the partial character.
func (b *bodyLog) fill(row *store.RequestLog) {
	row.RequestBody, row.RequestBodyTruncated = string(trimPartialRune(b.req, b.reqCut)), b.reqCut
	row.ResponseBody, row.ResponseBodyTruncated = string(trimPartialRune(b.answer, b.answerCut)), b.answerCut
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of a body
// that was cut.
func trimPartialRune(p []byte, cut bool) []byte {
	if !cut {
		return p
	}
	for i := 1; i <= utf8.UTFMax && i <= len(p); i++ {
		if utf8.RuneStart(p[len(p)-i]) {
			if !utf8.FullRune(p[len(p)-i:]) {
				return p[:len(p)-i]
			}
			return p
		}
	}
	return p
}
