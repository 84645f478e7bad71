package simupstream

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// streamPlan is what one stream sends, independent of the endpoint.
type streamPlan struct {
	object  string   // "chat.completion.chunk" or "text_completion"
	opening []byte   // choice sent right after the headers; nil for none
	tokens  []string // content pieces, one event each
	// piece appends the choice carrying one content piece.
	piece func(dst []byte, tok string) []byte
	// closing is the choice carrying the finish reason.
	closing []byte
	// usage, when non-nil, is sent in a final chunk with empty choices.
	usage *openai.Usage
	// usageNull adds "usage":null to every other chunk.
	usageNull bool
}

// streamer writes the events of one stream: each is "data: <json>\n\n",
// written in one call and flushed.
type streamer struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	ctx  context.Context
	head []byte // `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`
	tail []byte // `]}` (or `],"usage":null}`) plus the blank line
	buf  []byte
}

func newStreamer(w http.ResponseWriter, r *http.Request, c *call, p *streamPlan, idPrefix string) *streamer {
	head := make([]byte, 0, 128+len(c.model))
	head = append(head, `data: {"id":"`...)
	head = append(head, idPrefix...)
	head = append(head, c.id...)
	head = append(head, `","object":"`...)
	head = append(head, p.object...)
	head = append(head, `","created":`...)
	head = strconv.AppendInt(head, c.created, 10)
	head = append(head, `,"model":`...)
	head = appendJSONString(head, c.model)
	head = append(head, `,"choices":[`...)
	tail := []byte("]}\n\n")
	if p.usageNull {
		tail = []byte("],\"usage\":null}\n\n")
	}
	return &streamer{w: w, rc: http.NewResponseController(w), ctx: r.Context(),
		head: head, tail: tail, buf: make([]byte, 0, 256)}
}

// send writes buf as one event and flushes it.
func (st *streamer) send(b []byte) error {
	st.buf = b[:0]
	if _, err := st.w.Write(b); err != nil {
		return err
	}
	return st.rc.Flush()
}

// choice sends a chunk with one choice.
func (st *streamer) choice(choice []byte) error {
	b := append(st.buf, st.head...)
	b = append(b, choice...)
	return st.send(append(b, st.tail...))
}

// usage sends the final chunk with empty choices and the usage.
func (st *streamer) usage(u *openai.Usage) error {
	body, err := json.Marshal(u)
	if err != nil {
		return err
	}
	b := append(st.buf, st.head...)
	b = append(b, `],"usage":`...)
	b = append(b, body...)
	return st.send(append(b, "}\n\n"...))
}

// raw sends one data line as is.
func (st *streamer) raw(data string) error {
	b := append(st.buf, "data: "...)
	b = append(b, data...)
	return st.send(append(b, "\n\n"...))
}

// runStream sends the whole stream of plan p for call c, applying its
// stream faults and pacing. It returns early when the client goes away.
func runStream(w http.ResponseWriter, r *http.Request, c *call, p *streamPlan, idPrefix string) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := newStreamer(w, r, c, p, idPrefix)
	var err error
	if p.opening != nil {
		err = st.choice(p.opening)
	} else {
		err = st.rc.Flush()
	}
	if err != nil {
		return
	}
	delay := c.profile.FirstTokenDelay
	if c.fault.Kind == FaultSlowFirstToken {
		delay += c.fault.Delay
	}
	if sleep(st.ctx, delay) != nil || !st.sendTokens(c, p) {
		return
	}
	if st.choice(p.closing) != nil {
		return
	}
	if p.usage != nil && st.usage(p.usage) != nil {
		return
	}
	if c.fault.Kind != FaultNoDone {
		_ = st.raw("[DONE]")
	}
}

// sendTokens sends the content pieces, injecting the mid-stream fault at
// its position. It reports whether the stream should go on.
func (st *streamer) sendTokens(c *call, p *streamPlan) bool {
	var interval time.Duration
	if tps := c.profile.TokensPerSecond; tps > 0 {
		interval = time.Duration(float64(time.Second) / tps)
	}
	at := min(max(c.fault.After, 0), len(p.tokens))
	for i := 0; ; i++ {
		if i == at && !st.midStreamFault(c.fault) {
			return false
		}
		if i == len(p.tokens) {
			return true
		}
		if i > 0 && sleep(st.ctx, interval) != nil {
			return false
		}
		b := append(st.buf, st.head...)
		b = p.piece(b, p.tokens[i])
		if st.send(append(b, st.tail...)) != nil {
			return false
		}
	}
}

// midStreamFault injects a "stall", "cut" or "malformed_chunk" fault and
// reports whether the stream should go on. Other kinds do nothing here.
func (st *streamer) midStreamFault(f Fault) bool {
	switch f.Kind {
	case FaultStall:
		if f.Delay <= 0 {
			<-st.ctx.Done()
			return false
		}
		return sleep(st.ctx, f.Delay) == nil
	case FaultCut:
		_ = st.rc.Flush()
		panic(http.ErrAbortHandler)
	case FaultMalformedChunk:
		return st.raw(`{"id":`) == nil
	}
	return true
}
