package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
)

// streamEvent is the union of the Messages API stream events' fields.
type streamEvent struct {
	Type    string `json:"type"`
	Index   int    `json:"index"`
	Message *struct {
		ID    string `json:"id"`
		Model string `json:"model"`
		Usage *usage `json:"usage"`
	} `json:"message"`
	ContentBlock *block `json:"content_block"`
	Delta        *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// ErrMalformedEvent is the cause of a stream event the translator cannot
// make sense of (invalid JSON, events out of order).
var ErrMalformedEvent = errors.New("malformed Anthropic stream event")

// StreamError is an "error" event the upstream sent inside a stream.
type StreamError struct {
	// Type is Anthropic's error type, e.g. "overloaded_error".
	Type string
	// Message is the upstream's message.
	Message string
}

// Error implements error.
func (e *StreamError) Error() string { return e.Type + ": " + e.Message }

// StreamTranslator turns Messages API stream events into OpenAI
// chat.completion.chunk JSON, one event at a time. Every chunk of a stream
// has the same id, created and model.
//
// A StreamTranslator serves one stream and is not safe for concurrent use.
// Its zero value is ready; set Created before the first event.
type StreamTranslator struct {
	// Created is the chunks' "created" time in Unix seconds.
	Created int64

	ev       streamEvent
	out      []byte
	head     []byte // `{"id":…,"object":…,"created":…,"model":…,"choices":[`
	started  bool   // message_start was seen
	done     bool   // message_stop was seen
	tools    int    // tool_use blocks seen: the next OpenAI tool index
	toolIdx  map[int]int
	usage    usageTotals
	finished bool
}

// Event translates one event. name is the SSE event name (may be empty:
// the data's "type" decides). It returns the chunk to send, or nil when
// the event produces none (ping, block stops, unknown events). done is
// true after message_stop: the chunk returned with it (the usage chunk,
// with empty choices) is the stream's last. The chunk is only valid until
// the next call. An "error" event yields a *StreamError; an invalid or
// out-of-order event an error wrapping ErrMalformedEvent.
func (t *StreamTranslator) Event(name string, data []byte) (chunk []byte, done bool, err error) {
	if t.done {
		return nil, true, nil
	}
	t.ev = streamEvent{}
	if err := json.Unmarshal(data, &t.ev); err != nil {
		if name == "ping" {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	typ := t.ev.Type
	if typ == "" {
		typ = name
	}
	if typ == "error" {
		se := &StreamError{Type: "api_error", Message: "the upstream reported an error in the stream"}
		if e := t.ev.Error; e != nil {
			se.Type, se.Message = cmpOr(e.Type, se.Type), cmpOr(clip(e.Message), se.Message)
		}
		return nil, false, se
	}
	if typ == "message_start" {
		return t.messageStart()
	}
	if !t.started {
		switch typ {
		case "ping":
			return nil, false, nil
		case "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop":
			return nil, false, fmt.Errorf("%w: %s before message_start", ErrMalformedEvent, typ)
		}
		return nil, false, nil
	}
	switch typ {
	case "content_block_start":
		return t.blockStart()
	case "content_block_delta":
		return t.blockDelta()
	case "message_delta":
		t.usage.merge(t.ev.Usage)
		if t.ev.Delta == nil || t.ev.Delta.StopReason == "" || t.finished {
			return nil, false, nil
		}
		t.finished = true
		return t.choice(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"` + FinishReason(t.ev.Delta.StopReason) + `"}`), false, nil
	case "message_stop":
		t.done = true
		if !t.usage.set {
			return nil, true, nil
		}
		return t.usageChunk(), true, nil
	}
	return nil, false, nil // ping, content_block_stop, unknown events
}

func (t *StreamTranslator) messageStart() ([]byte, bool, error) {
	m := t.ev.Message
	if t.started || m == nil {
		return nil, false, fmt.Errorf("%w: message_start without a message, or repeated", ErrMalformedEvent)
	}
	t.started = true
	t.usage.merge(m.Usage)
	h := append(t.head[:0], `{"id":`...)
	h = appendString(h, m.ID)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, t.Created, 10)
	h = append(h, `,"model":`...)
	h = appendString(h, m.Model)
	t.head = append(h, `,"choices":[`...)
	return t.choice(`{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`), false, nil
}

func (t *StreamTranslator) blockStart() ([]byte, bool, error) {
	b := t.ev.ContentBlock
	if b == nil {
		return nil, false, fmt.Errorf("%w: content_block_start without a content_block", ErrMalformedEvent)
	}
	switch b.Type {
	case "text":
		if b.Text == "" {
			return nil, false, nil
		}
		return t.content(b.Text), false, nil
	case "tool_use":
		if t.toolIdx == nil {
			t.toolIdx = make(map[int]int, 2)
		}
		if _, dup := t.toolIdx[t.ev.Index]; dup {
			return nil, false, fmt.Errorf("%w: content block %d started twice", ErrMalformedEvent, t.ev.Index)
		}
		idx := t.tools
		t.toolIdx[t.ev.Index] = idx
		t.tools++
		o := append(t.out[:0], t.head...)
		o = append(o, `{"index":0,"delta":{"tool_calls":[{"index":`...)
		o = strconv.AppendInt(o, int64(idx), 10)
		o = append(o, `,"id":`...)
		o = appendString(o, b.ID)
		o = append(o, `,"type":"function","function":{"name":`...)
		o = appendString(o, b.Name)
		o = append(o, `,"arguments":""}}]},"logprobs":null,"finish_reason":null}]}`...)
		t.out = o
		return o, false, nil
	}
	return nil, false, nil // thinking, server tools: not part of the OpenAI answer
}

func (t *StreamTranslator) blockDelta() ([]byte, bool, error) {
	d := t.ev.Delta
	if d == nil {
		return nil, false, fmt.Errorf("%w: content_block_delta without a delta", ErrMalformedEvent)
	}
	switch d.Type {
	case "text_delta":
		if d.Text == "" {
			return nil, false, nil
		}
		return t.content(d.Text), false, nil
	case "input_json_delta":
		idx, ok := t.toolIdx[t.ev.Index]
		if !ok {
			return nil, false, fmt.Errorf("%w: input_json_delta for block %d, which is not a tool_use block", ErrMalformedEvent, t.ev.Index)
		}
		if d.PartialJSON == "" {
			return nil, false, nil
		}
		o := append(t.out[:0], t.head...)
		o = append(o, `{"index":0,"delta":{"tool_calls":[{"index":`...)
		o = strconv.AppendInt(o, int64(idx), 10)
		o = append(o, `,"function":{"arguments":`...)
		o = appendString(o, d.PartialJSON)
		o = append(o, `}}]},"logprobs":null,"finish_reason":null}]}`...)
		t.out = o
		return o, false, nil
	}
	return nil, false, nil // thinking, signature, citations deltas
}

// content builds a chunk carrying text.
func (t *StreamTranslator) content(text string) []byte {
	o := append(t.out[:0], t.head...)
	o = append(o, `{"index":0,"delta":{"content":`...)
	o = appendString(o, text)
	t.out = append(o, `},"logprobs":null,"finish_reason":null}]}`...)
	return t.out
}

// choice builds a chunk whose only choice is the JSON c.
func (t *StreamTranslator) choice(c string) []byte {
	o := append(t.out[:0], t.head...)
	o = append(o, c...)
	t.out = append(o, "]}"...)
	return t.out
}

func (t *StreamTranslator) usageChunk() []byte {
	u, _ := json.Marshal(t.usage.openAI()) // plain ints: cannot fail
	o := append(t.out[:0], t.head...)
	o = append(o, `],"usage":`...)
	o = append(o, u...)
	t.out = append(o, '}')
	return t.out
}

// streamErrorFor maps a translator error to a provider.Error.
func streamErrorFor(channel string, phase provider.Phase, err error) *provider.Error {
	var se *StreamError
	if errors.As(err, &se) {
		return &provider.Error{Kind: provider.KindStreamError, Phase: phase, Channel: channel,
			Type: openai.TypeServerError, Code: se.Type, Message: se.Message, Err: err}
	}
	return &provider.Error{Kind: provider.KindMalformed, Phase: phase, Channel: channel,
		Message: "the upstream sent an invalid stream event", Err: err}
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			if r == utf8.RuneError {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
