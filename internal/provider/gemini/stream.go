package gemini

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/sse"
)

// translator turns the events of a streamGenerateContent (alt=sse) answer
// into OpenAI chat.completion.chunk JSON, event by event (PROTOCOLS §5.3):
// the first chunk of each choice carries the role, text parts become
// content deltas, each whole functionCall becomes one tool-call delta with
// its full arguments (indexes contiguous from 0 per choice), a
// finishReason becomes a chunk with an empty delta and the finish reason,
// and the last usageMetadata seen becomes a final chunk with empty choices
// when the stream ends. It is not safe for concurrent use.
type translator struct {
	ids     idSource
	model   string
	head    []byte // `{"id":…,"object":…,"created":…,"model":…,"choices":[`
	choices []choiceState
	usage   *usageMetadata
	bufs    [][]byte // chunk buffers, reused from event to event
	out     [][]byte
	ev      generateResponse
}

// choiceState is what the translator knows of one candidate.
type choiceState struct {
	seen, roleSent, called, finished bool
	tools                            int // tool calls emitted so far
}

func newTranslator(model string, ids idSource) *translator {
	return &translator{ids: ids, model: model}
}

// errNotResponse reports an event that is not a Gemini response at all.
var errNotResponse = errors.New("the event is not a Gemini response object")

// event translates one event's data. The chunks returned alias the
// translator's buffers and are valid until the next call. A blocked prompt
// is a *blockedError, an error event an *upstreamError.
func (t *translator) event(data []byte) ([][]byte, error) {
	t.ev = generateResponse{}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errNotResponse
	}
	if err := json.Unmarshal(data, &t.ev); err != nil {
		return nil, fmt.Errorf("decoding a stream event: %w", err)
	}
	r := &t.ev
	if len(r.Error) > 0 && string(r.Error) != "null" {
		return nil, &upstreamError{body: data}
	}
	if r.UsageMetadata != nil {
		t.usage = r.UsageMetadata
	}
	if t.head == nil {
		t.start(r)
	}
	t.out = t.out[:0]
	if len(r.Candidates) == 0 {
		if pf := r.PromptFeedback; pf != nil && pf.BlockReason != "" {
			return nil, &blockedError{reason: pf.BlockReason, message: pf.BlockReasonMessage}
		}
		return nil, nil
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if c.Index < 0 || c.Index >= maxCandidates {
			return nil, fmt.Errorf("candidate index %d out of range", c.Index)
		}
		for len(t.choices) <= c.Index {
			t.choices = append(t.choices, choiceState{})
		}
		t.candidate(c, &t.choices[c.Index])
	}
	return t.out, nil
}

// start fixes the id, model and creation time every chunk repeats.
func (t *translator) start(r *generateResponse) {
	h := make([]byte, 0, 160)
	h = append(h, `{"id":`...)
	h = appendString(h, t.ids.completionID(r.ResponseID))
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, t.ids.now().Unix(), 10)
	h = append(h, `,"model":`...)
	h = appendString(h, cmp.Or(r.ModelVersion, t.model))
	t.head = append(h, `,"choices":[`...)
}

// candidate emits the chunks of one candidate of one event.
func (t *translator) candidate(c *candidate, st *choiceState) {
	st.seen = true
	b := t.chunk()
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(c.Index), 10)
	b = append(b, `,"delta":{`...)
	mark := len(b)
	if !st.roleSent {
		b = append(b, `"role":"assistant"`...)
		st.roleSent = true
	}
	text, calls := false, false
	if c.Content != nil {
		for _, p := range c.Content.Parts {
			if p.Thought || p.FunctionCall != nil || p.Text == "" {
				continue
			}
			if !text {
				b = comma(b, mark)
				b = append(b, `"content":"`...)
				text = true
			}
			b = appendStringBody(b, p.Text)
		}
		if text {
			b = append(b, '"')
		}
		for _, p := range c.Content.Parts {
			if p.FunctionCall == nil {
				continue
			}
			if !calls {
				b = comma(b, mark)
				b = append(b, `"tool_calls":[`...)
				calls = true
			} else {
				b = append(b, ',')
			}
			b = t.appendCall(b, p.FunctionCall, st.tools)
			st.tools++
			st.called = true
		}
		if calls {
			b = append(b, ']')
		}
	}
	if len(b) > mark {
		if !text && !calls {
			b = append(b, `,"content":""`...)
		}
		b = append(b, `},"logprobs":null,"finish_reason":null}]}`...)
		t.emit(b)
	}
	if c.FinishReason != "" && !st.finished {
		st.finished = true
		b := t.chunk()
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(c.Index), 10)
		b = append(b, `,"delta":{},"logprobs":null,"finish_reason":"`...)
		b = append(b, finishReason(c.FinishReason, st.called)...)
		b = append(b, `"}]}`...)
		t.emit(b)
	}
}

// appendCall appends one complete tool-call delta.
func (t *translator) appendCall(b []byte, fc *functionCall, index int) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"id":`...)
	b = appendString(b, t.ids.callID(fc.ID))
	b = append(b, `,"type":"function","function":{"name":`...)
	b = appendString(b, fc.Name)
	b = append(b, `,"arguments":`...)
	b = appendString(b, argsString(fc.Args))
	return append(b, `}}`...)
}

// chunk returns a reused buffer holding the chunk head.
func (t *translator) chunk() []byte {
	n := len(t.out)
	if n == len(t.bufs) {
		t.bufs = append(t.bufs, make([]byte, 0, 512))
	}
	return append(t.bufs[n][:0], t.head...)
}

func (t *translator) emit(b []byte) {
	t.bufs[len(t.out)] = b
	t.out = append(t.out, b)
}

// complete reports whether every choice seen has finished.
func (t *translator) complete() bool {
	seen := false
	for _, st := range t.choices {
		if st.seen && !st.finished {
			return false
		}
		seen = seen || st.seen
	}
	return seen
}

// end returns the usage chunk sent after a complete stream, or nil when
// the upstream reported no usage.
func (t *translator) end() []byte {
	u := usage(t.usage)
	if u == nil || t.head == nil {
		return nil
	}
	ub, err := json.Marshal(u)
	if err != nil {
		return nil
	}
	t.out = t.out[:0]
	b := t.chunk()
	b = append(b, `],"usage":`...)
	b = append(b, ub...)
	b = append(b, '}')
	t.emit(b)
	return b
}

func comma(b []byte, mark int) []byte {
	if len(b) > mark {
		return append(b, ',')
	}
	return b
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendStringBody(b, s)
	return append(b, '"')
}

// appendStringBody appends s escaped for a JSON string, without quotes.
// Invalid UTF-8 becomes U+FFFD, as with encoding/json.
func appendStringBody(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			start = i + size
		}
		i += size
	}
	return append(b, s[start:]...)
}

// stream reads a Gemini event stream and yields OpenAI chunks. It is not
// safe for concurrent use, except Close.
type stream struct {
	channel string
	body    io.ReadCloser
	reader  *sse.Reader
	tr      *translator
	cancel  context.CancelCauseFunc
	timer   *provider.PhaseTimer
	queue   [][]byte // chunks of the last event not yet returned
	done    bool
	closing sync.Once
}

var _ provider.Stream = (*stream)(nil)

func newStream(channel string, body io.ReadCloser, cancel context.CancelCauseFunc, t provider.Timeouts, tr *translator) *stream {
	return &stream{channel: channel, body: body, reader: sse.NewReader(body, sse.ReaderOptions{}),
		tr: tr, cancel: cancel, timer: provider.NewPhaseTimer(channel, t, cancel)}
}

// Next returns the next OpenAI chunk; see provider.Stream. Gemini streams
// have no end marker: a clean end after every choice's finishReason is
// complete (a usage chunk, then io.EOF), an end before it is KindTruncated.
func (s *stream) Next(ctx context.Context) (provider.Event, error) {
	if len(s.queue) > 0 {
		return s.pop(), nil
	}
	if s.done {
		return provider.Event{}, io.EOF
	}
	s.timer.Arm()
	for {
		ev, err := s.reader.Next()
		if err != nil {
			if errors.Is(err, io.EOF) && s.tr.complete() && !s.timer.TimedOut() {
				s.done = true
				s.timer.Disarm()
				s.reader.Release() // the stream ended; the usage chunk is the translator's own
				if u := s.tr.end(); u != nil {
					return provider.Event{Data: u}, nil
				}
				return provider.Event{}, io.EOF
			}
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 {
			continue
		}
		chunks, err := s.tr.event(ev.Data)
		if err != nil {
			s.timer.Disarm()
			s.done = true
			return provider.Event{}, s.eventError(err)
		}
		if len(chunks) == 0 {
			continue
		}
		s.queue = chunks
		return s.pop(), nil
	}
}

func (s *stream) pop() provider.Event {
	b := s.queue[0]
	s.queue = s.queue[1:]
	if !s.timer.Started() {
		if f := openai.ScanChunk(b); f.Content || f.Finished {
			s.timer.SetStarted()
		}
	}
	return provider.Event{Data: b}
}

// eventError classifies an event the translator refused.
func (s *stream) eventError(err error) error {
	var be *blockedError
	if errors.As(err, &be) {
		return be.providerError(s.channel, s.timer.Phase())
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		msg := "the upstream reported an error in the stream"
		if rpc, ok := parseRPCError(ue.body); ok {
			msg = cmp.Or(rpc.Status+": "+rpc.Message, msg)
		}
		return &provider.Error{Kind: provider.KindStreamError, Phase: s.timer.Phase(), Channel: s.channel, Message: msg}
	}
	return &provider.Error{Kind: provider.KindMalformed, Phase: s.timer.Phase(), Channel: s.channel,
		Message: "the upstream sent a stream event that is not a valid Gemini response", Err: err}
}

// fail classifies a read error.
func (s *stream) fail(ctx context.Context, err error) error {
	s.done = true
	return s.timer.Fail(ctx, err, "the upstream closed the stream before its finishReason")
}

// Pending reports whether the next event has already been received.
func (s *stream) Pending() bool { return len(s.queue) > 0 || s.reader.Pending() }

// Close releases the connection; safe to call more than once.
func (s *stream) Close() error {
	s.closing.Do(func() {
		s.timer.Disarm()
		s.cancel(nil)
		_ = s.body.Close()
	})
	return nil
}
