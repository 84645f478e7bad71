package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// transcript keeps the chunks sent to a client so that a stream broken
// mid-answer can be continued. Chunks are stored length-prefixed in one
// buffer, so once it has grown no chunk costs an allocation. Past limit it
// gives up and the stream can no longer be continued.
type transcript struct {
	buf    []byte
	pooled *[]byte // where buf came from, returned by release
	limit  int
	over   bool
}

// Transcript buffers are reused across streams: a typical answer fits the
// first one, and one that grew past transcriptPoolMax is left to the GC.
const (
	transcriptInitial = 8 << 10
	transcriptPoolMax = 64 << 10
)

var transcriptPool = sync.Pool{New: func() any {
	b := make([]byte, 0, transcriptInitial)
	return &b
}}

func (t *transcript) add(data []byte) {
	if t.limit <= 0 || t.over {
		return
	}
	if len(t.buf)+4+len(data) > t.limit {
		t.release()
		t.over = true
		return
	}
	if t.pooled == nil {
		t.pooled = transcriptPool.Get().(*[]byte)
		t.buf = (*t.pooled)[:0]
	}
	t.buf = binary.LittleEndian.AppendUint32(t.buf, uint32(len(data)))
	t.buf = append(t.buf, data...)
}

// release returns the buffer for reuse by another stream; the transcript
// is empty afterwards.
func (t *transcript) release() {
	if t.pooled != nil && cap(t.buf) <= transcriptPoolMax {
		*t.pooled = t.buf[:0]
		transcriptPool.Put(t.pooled)
	}
	t.buf, t.pooled = nil, nil
}

// usable reports whether the transcript holds everything that was sent.
func (t *transcript) usable() bool { return t.limit > 0 && !t.over }

func (t *transcript) each(f func([]byte)) {
	b := t.buf
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint32(b))
		f(b[4 : 4+n])
		b = b[4+n:]
	}
}

// deliveredChunk is what continuation needs from a sent chunk.
type deliveredChunk struct {
	ID      string `json:"id"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string         `json:"content"`
			Refusal   *string         `json:"refusal"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
}

// delivered rebuilds the text the client received, the id of the stream's
// chunks and how many content chunks there were. ok is false when the
// stream cannot be continued from text: several choices, tool calls or a
// refusal were sent.
func (t *transcript) delivered() (text, id string, chunks int64, ok bool) {
	if !t.usable() {
		return "", "", 0, false
	}
	var b strings.Builder
	ok = true
	t.each(func(data []byte) {
		var c deliveredChunk
		if !ok || json.Unmarshal(data, &c) != nil {
			ok = false
			return
		}
		if id == "" {
			id = c.ID
		}
		for _, ch := range c.Choices {
			d := ch.Delta
			if ch.Index != 0 || (len(d.ToolCalls) > 0 && string(d.ToolCalls) != "null") || (d.Refusal != nil && *d.Refusal != "") {
				ok = false
				return
			}
			if d.Content != nil && *d.Content != "" {
				b.WriteString(*d.Content)
				chunks++
			}
		}
	})
	return b.String(), id, chunks, ok && b.Len() > 0
}

// continuationLimit is how much of a stream is kept for continuation: the
// configured buffer for chat requests with one choice, else nothing.
func (s *Server) continuationLimit(rr *relayRequest) int {
	if !s.opts.Continuation.Enabled || rr.ep.op != provider.EndpointChat {
		return 0
	}
	if n, ok, _ := rr.obj.Int("n"); ok && n != 1 {
		return 0
	}
	return s.opts.Continuation.MaxBufferBytes
}

// continuation is an attempt that continues a broken stream, either by an
// assistant prefill (the channel continues the delivered text) or by
// regenerating the answer and dropping the part already delivered, which
// is only allowed when the new answer begins exactly with it.
type continuation struct {
	request   *provider.Request
	prefill   bool
	id        []byte // the stream's chunk id, kept for continued chunks
	prefix    string // regenerate: delivered text still to drop
	delivered int64  // content chunks already delivered (about one token each)
	combined  bool
}

// errSpliceMismatch: a regenerated answer differs from what was delivered.
var errSpliceMismatch = errors.New("the regenerated answer does not begin with the text already delivered")

// canContinue reports whether a stream broken after content can be
// continued at all.
func (sr *streamRelay) canContinue() bool {
	_, _, _, ok := sr.script.delivered()
	return ok
}

// continueWith prepares the attempt a as a continuation.
func (sr *streamRelay) continueWith(a router.Attempt) (*continuation, error) {
	text, id, chunks, ok := sr.script.delivered()
	if !ok {
		return nil, sr.origErr
	}
	if !a.Target.Prefill {
		c := sr.regenerate(a)
		return c, nil
	}
	msgs, _ := sr.rr.obj.Raw("messages")
	i := bytes.LastIndexByte(msgs, ']')
	patched := make([]byte, 0, len(msgs)+len(text)+48)
	patched = append(patched, msgs[:i]...)
	patched = append(patched, `,{"role":"assistant","content":`...)
	patched = append(patched, jsonpeek.Quote(text)...)
	patched = append(patched, "}]"...)
	edits := []jsonpeek.Edit{{Key: "messages", Value: patched}}
	if a.Target.UpstreamModel != sr.rr.requested {
		edits = append(edits, jsonpeek.Edit{Key: "model", Value: jsonpeek.Quote(a.Target.UpstreamModel)})
	}
	if sr.rr.usageEdit != nil {
		edits = append(edits, *sr.rr.usageEdit)
	}
	req := &provider.Request{Endpoint: sr.rr.ep.op, Body: sr.rr.obj.Patch(edits...), Stream: true,
		RequestID: sr.rec.row.RequestID, Timeouts: a.Target.Timeouts}
	return &continuation{request: req, prefill: true, id: []byte(id), delivered: chunks}, nil
}

// regenerate prepares a as a fresh answer to the original request, to be
// spliced after the delivered text.
func (sr *streamRelay) regenerate(a router.Attempt) *continuation {
	text, id, chunks, _ := sr.script.delivered()
	return &continuation{request: sr.rr.requestFor(a, sr.rec.row.RequestID), id: []byte(id), prefix: text, delivered: chunks}
}

// adapt turns a chunk of the continuing stream into one of the original:
// chunks before content are dropped (the role was already sent), the
// delivered prefix of a regenerated answer is cut, and the chunk id is the
// original stream's.
func (c *continuation) adapt(data []byte) ([]byte, bool, error) {
	f := openai.ScanChunk(data)
	if c.prefix != "" {
		if !f.Content {
			if f.Finished {
				return nil, false, &provider.Error{Kind: provider.KindStreamError, Phase: provider.PhaseIdle, Message: errSpliceMismatch.Error()}
			}
			return nil, false, nil
		}
		return c.splice(data)
	}
	if !f.Content && !f.Finished && !carriesUsage(data) {
		return nil, false, nil
	}
	return c.stamp(data), true, nil
}

// carriesUsage reports whether a chunk holds a usage object. The
// "usage":null that every chunk carries when usage was asked for does not
// count: a continuation's role chunk carries it, and must still be dropped.
func carriesUsage(data []byte) bool {
	obj, err := jsonpeek.Parse(data)
	if err != nil {
		return false
	}
	raw, ok := obj.Raw("usage")
	return ok && !isNull(raw)
}

// splice drops the delivered prefix from a regenerated content chunk.
func (c *continuation) splice(data []byte) ([]byte, bool, error) {
	var chunk map[string]json.RawMessage
	var choices []map[string]json.RawMessage
	var delta map[string]json.RawMessage
	var content string
	if json.Unmarshal(data, &chunk) != nil || json.Unmarshal(chunk["choices"], &choices) != nil || len(choices) != 1 ||
		json.Unmarshal(choices[0]["delta"], &delta) != nil || json.Unmarshal(delta["content"], &content) != nil {
		return nil, false, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseIdle, Message: "could not read a regenerated chunk"}
	}
	switch {
	case strings.HasPrefix(c.prefix, content):
		c.prefix = c.prefix[len(content):]
		return nil, false, nil
	case strings.HasPrefix(content, c.prefix):
		content, c.prefix = content[len(c.prefix):], ""
		if content == "" {
			return nil, false, nil
		}
	default:
		return nil, false, &provider.Error{Kind: provider.KindStreamError, Phase: provider.PhaseIdle, Message: errSpliceMismatch.Error()}
	}
	delta["content"], _ = json.Marshal(content)
	choices[0]["delta"], _ = json.Marshal(delta)
	chunk["choices"], _ = json.Marshal(choices)
	out, _ := json.Marshal(chunk)
	return c.stamp(out), true, nil
}

// stamp gives a continued chunk the original stream's id.
func (c *continuation) stamp(data []byte) []byte {
	if len(c.id) == 0 {
		return data
	}
	obj, err := jsonpeek.Parse(data)
	if err != nil {
		return data
	}
	if id, ok := obj.Raw("id"); ok && bytes.Equal(bytes.Trim(id, `"`), c.id) {
		return data
	}
	return obj.Patch(jsonpeek.Edit{Key: "id", Value: jsonpeek.Quote(string(c.id))})
}

// combineUsage adds the delivered part to the continuation's usage, once.
func (c *continuation) combineUsage(rec *record) {
	if c.combined {
		return
	}
	c.combined = true
	rec.row.CompletionTokens += c.delivered
	rec.row.TotalTokens = rec.row.PromptTokens + rec.row.CompletionTokens
	rec.row.UsageEstimated = true
}

// patchUsage rewrites a usage chunk with the combined usage.
func (c *continuation) patchUsage(obj jsonpeek.Object, rec *record) []byte {
	u, _ := json.Marshal(openai.Usage{PromptTokens: rec.row.PromptTokens, CompletionTokens: rec.row.CompletionTokens, TotalTokens: rec.row.TotalTokens})
	return obj.Patch(jsonpeek.Edit{Key: "usage", Value: u})
}
