package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/internal/sse"
)

// Buffering detection: a stream whose events all arrive within
// max(burstFloor, span/burstShare) of each other at the end, although the
// exchange took at least minBufferedSpan, was held back by something in
// the path. A real stream sends its first (role) chunk well before the
// last one.
const (
	minBufferedEvents = 3
	minBufferedSpan   = 30 * time.Millisecond
	burstFloor        = 5 * time.Millisecond
	burstShare        = 20
)

// bufferingFix is the remedy for a buffered stream.
const bufferingFix = "send `X-Accel-Buffering: no` from the server, set `proxy_buffering off` in nginx (and `gzip off` for text/event-stream), and disable response buffering and compression in any CDN, load balancer or API gateway in between"

// StreamStats is what the stream check saw.
type StreamStats struct {
	Events        int     `json:"events"` // data events, [DONE] included
	Chunks        int     `json:"valid_chunks"`
	ContentChunks int     `json:"content_chunks"`
	InvalidChunks int     `json:"invalid_chunks"`
	FirstInvalid  string  `json:"first_invalid,omitempty"`
	Done          bool    `json:"done_marker"`
	FinishReason  string  `json:"finish_reason,omitempty"`
	EndError      string  `json:"end_error,omitempty"`
	FirstEventMs  float64 `json:"first_event_ms,omitempty"`
	LastEventMs   float64 `json:"last_event_ms,omitempty"`
	MaxGapMs      float64 `json:"max_gap_ms"`
	BurstMs       float64 `json:"burst_ms"` // first to last event
	Buffered      bool    `json:"buffered"`
}

// streamChunk is the shape every chat.completion.chunk must have.
type streamChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Index *int `json:"index"`
		Delta *struct {
			Content   *string         `json:"content"`
			Refusal   *string         `json:"refusal"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func checkStream(ctx context.Context, env *Env) Result {
	if x := env.lastExchange("chat"); x != nil && x.Status == http.StatusTooManyRequests {
		return skipped("the chat request was rate limited, so a stream would be too; see the rate-limit check")
	}
	body := env.chatRequest(true)
	x := env.newExchange("stream", http.MethodPost, "/chat/completions", true, body)
	cl, err := env.client.send(ctx, x.Method, endpoint(env.base, x.Path), body, true)
	if cl == nil {
		x.Error = err.Error()
		return env.failure(x)
	}
	if err != nil {
		x.noteError(err)
		x.Timings = timingsMs(cl.finish())
		return env.failure(x)
	}
	x.record(cl.resp)
	if x.Status != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(cl.body, maxBody))
		x.ResponseBytes = int64(len(data))
		x.Timings = timingsMs(cl.finish())
		x.recordError(data)
		return env.failure(x)
	}
	if mt, _, _ := mime.ParseMediaType(x.ContentTyp); mt != "text/event-stream" {
		x.Timings = timingsMs(cl.finish())
		return fail("the endpoint or a proxy in front of it ignores stream:true; it must answer text/event-stream",
			"200 with Content-Type %q instead of text/event-stream%s", x.ContentTyp, idSuffix(x))
	}
	st, readErr := readStream(env, cl, x)
	x.Timings = timingsMs(cl.finish())
	x.Timings.MaxGap = st.MaxGapMs
	x.Flow = st
	if readErr != nil {
		x.noteError(readErr)
		st.EndError = x.Error
	}
	return judgeStream(x, st)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// readStream reads the events of a stream, timing each, until [DONE], the
// end of the body or an error, which it returns (nil for a clean end).
func readStream(env *Env, cl *call, x *Exchange) (*StreamStats, error) {
	st := &StreamStats{}
	rd := sse.NewReader(countingReader{r: cl.body, n: &x.ResponseBytes}, sse.ReaderOptions{})
	var first, last time.Time
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		if len(ev.Data) == 0 {
			continue
		}
		now := env.now()
		if first.IsZero() {
			first = now
		} else if gap := now.Sub(last); ms(gap) > st.MaxGapMs {
			st.MaxGapMs = ms(gap)
		}
		last = now
		st.Events++
		if bytes.Equal(ev.Data, []byte("[DONE]")) {
			st.Done = true
			break
		}
		if content, err := checkChunk(ev.Data, st, x); err != nil {
			st.InvalidChunks++
			if st.FirstInvalid == "" {
				st.FirstInvalid = err.Error()
			}
		} else if content {
			cl.firstToken()
		}
	}
	if !first.IsZero() {
		st.FirstEventMs = ms(first.Sub(cl.start))
		st.LastEventMs = ms(last.Sub(cl.start))
		st.BurstMs = ms(last.Sub(first))
		span := last.Sub(cl.start)
		burst := last.Sub(first)
		st.Buffered = st.Events >= minBufferedEvents && span >= minBufferedSpan && burst <= max(burstFloor, span/burstShare)
	}
	return st, nil
}

// checkChunk validates one data payload and reports whether it carried
// content.
func checkChunk(data []byte, st *StreamStats, x *Exchange) (bool, error) {
	var c streamChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return false, fmt.Errorf("not JSON: %s", clip(string(data), 80))
	}
	if len(c.Error) > 0 && !bytes.Equal(c.Error, []byte("null")) {
		x.recordError(data)
		return false, fmt.Errorf("error event: %s", orNone(x.ErrorMessage))
	}
	switch {
	case c.Object != "chat.completion.chunk":
		return false, fmt.Errorf("object is %q, not chat.completion.chunk", c.Object)
	case c.ID == "":
		return false, errors.New("chunk without an id")
	case c.Choices == nil:
		return false, errors.New("chunk without a choices array")
	}
	st.Chunks++
	if c.Usage != nil {
		x.Usage = c.Usage
	}
	content := false
	for _, ch := range c.Choices {
		if ch.Index == nil || ch.Delta == nil {
			return false, errors.New("choice without index or delta")
		}
		if ch.FinishReason != nil {
			st.FinishReason = *ch.FinishReason
		}
		d := ch.Delta
		if (d.Content != nil && *d.Content != "") || (d.Refusal != nil && *d.Refusal != "") || len(d.ToolCalls) > 0 {
			content = true
		}
	}
	if content {
		st.ContentChunks++
	}
	return content, nil
}

// judgeStream turns what the stream check saw into a result.
func judgeStream(x *Exchange, st *StreamStats) Result {
	timing := fmt.Sprintf("first byte %v, first token %v, largest gap %v", msDur(x.Timings.Headers), msDur(x.Timings.FirstToken), msDur(st.MaxGapMs))
	switch {
	case x.timeout != nil:
		return fail("see the timeouts check below for the likely cause and remedy",
			"%v after %d events (%s)%s", x.timeout, st.Events, timing, idSuffix(x))
	case x.ErrorMessage != "" && st.InvalidChunks > 0:
		return fail("the upstream failed mid-stream and said so in an error event: retry; if it persists send the request id to the operator",
			"error event after %d chunks: %s%s", st.Chunks, x.ErrorMessage, idSuffix(x))
	case st.EndError != "":
		return fail("something closed the connection mid-answer: the upstream crashed or a proxy cut it (check proxy read and idle timeouts: nginx proxy_read_timeout, Cloudflare 100 s); retry, and send the request id to the operator",
			"stream cut after %d events without [DONE]: %s (%s)%s", st.Events, st.EndError, timing, idSuffix(x))
	case !st.Done:
		finish := "and no finish_reason either: the answer is truncated"
		if st.FinishReason != "" {
			finish = "although finish_reason " + st.FinishReason + " arrived"
		}
		return fail("the server (or a proxy) must end every stream with `data: [DONE]`; without it SDKs cannot tell a complete answer from a cut one, and they end silently either way",
			"stream ended without the [DONE] marker after %d events, %s%s", st.Events, finish, idSuffix(x))
	case st.InvalidChunks > 0:
		return fail("the stream does not follow the OpenAI chunk format, so SDKs will raise parse errors: fix the server or the translating proxy",
			"%d of %d events are not valid chat.completion.chunk objects (first: %s)%s", st.InvalidChunks, st.Events, st.FirstInvalid, idSuffix(x))
	case st.Chunks == 0:
		return fail("the stream carried no chunks: check the server", "stream had [DONE] but no chunks%s", idSuffix(x))
	case st.Buffered:
		next := "something in the path buffers the stream and releases it at the end: " + bufferingFix
		if x.Compressed {
			next = "the stream came compressed and buffered: turn off compression for text/event-stream, and " + bufferingFix
		}
		return warn(next, "buffered: all %d events arrived within %v at the very end (headers at %v, last event at %v), so tokens reach clients only when the answer is complete%s",
			st.Events, msDur(st.BurstMs), msDur(x.Timings.Headers), msDur(st.LastEventMs), idSuffix(x))
	case st.ContentChunks == 0:
		return warn("the model returned an empty answer; try another prompt with --prompt", "valid stream, but no content tokens (%s)%s", timing, idSuffix(x))
	case x.Compressed:
		return warn("the stream is compressed; proxies and clients often buffer compressed streams: disable compression for text/event-stream",
			"valid stream of %d events with [DONE], but gzip-compressed (%s)%s", st.Events, timing, idSuffix(x))
	}
	return ok("text/event-stream, %d valid chunks, [DONE]; %s%s", st.Chunks, timing, idSuffix(x))
}

// lastExchange returns the last exchange of check, or nil.
func (env *Env) lastExchange(check string) *Exchange {
	for i := len(env.Exchanges) - 1; i >= 0; i-- {
		if env.Exchanges[i].Check == check {
			return env.Exchanges[i]
		}
	}
	return nil
}
