package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
)

// Event is one Anthropic stream event: the SSE event name and its data.
type Event struct {
	Name string
	Data []byte
}

// ErrInterleavedTools is returned when an upstream sends arguments for a
// tool call after a later one began: Anthropic blocks cannot reopen.
var ErrInterleavedTools = errors.New("the upstream interleaved the arguments of parallel tool calls, which the Messages stream cannot carry")

// StreamTranslator turns the OpenAI chunks of one stream into Anthropic
// events in Anthropic's order: message_start, then per content block
// content_block_start, its deltas and content_block_stop, then (from End)
// message_delta with the stop reason and usage, and message_stop. Only
// the first choice is translated. It is made per request and is not safe
// for concurrent use; the events it returns are valid until the next call.
type StreamTranslator struct {
	opts    ResponseOptions
	started bool
	ended   bool
	open    int  // index of the open block, -1 when none
	openTxt bool // the open block is text
	next    int  // index of the next block
	tools   map[int]int
	reason  string
	usage   Usage
	events  []Event
	buf     []byte // backs the events' data
	chunk   streamChunk
}

// NewStreamTranslator returns a translator; opts supply the id and model
// when the chunks lack them.
func NewStreamTranslator(opts ResponseOptions) *StreamTranslator {
	return &StreamTranslator{opts: opts, open: -1}
}

// streamChunk is what the translator reads of a chunk.
type streamChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				Index    *int   `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *openai.Usage `json:"usage"`
}

// Chunk translates one OpenAI chunk. A chunk that is not valid JSON is an
// error; one with nothing to say yields no events.
func (t *StreamTranslator) Chunk(data []byte) ([]Event, error) {
	t.events, t.buf = t.events[:0], t.buf[:0]
	if t.ended {
		return nil, nil
	}
	c := &t.chunk
	*c = streamChunk{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("decoding a stream chunk: %w", err)
	}
	if c.Usage != nil {
		t.usage = usageFrom(c.Usage)
	}
	t.start(c.ID, c.Model)
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		d := &ch.Delta
		if d.Content != nil && *d.Content != "" {
			t.text(*d.Content)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			t.text(*d.Refusal)
		}
		for j := range d.ToolCalls {
			tc := &d.ToolCalls[j]
			idx := j
			if tc.Index != nil {
				idx = *tc.Index
			}
			if err := t.tool(idx, tc.ID, tc.Function.Name, tc.Function.Arguments); err != nil {
				return nil, err
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			t.closeBlock()
			t.reason = StopReason(*ch.FinishReason)
		}
	}
	return t.events, nil
}

// End closes the stream: the open block, message_delta with the stop
// reason and the usage seen, and message_stop. Later calls return nothing.
func (t *StreamTranslator) End() []Event {
	t.events, t.buf = t.events[:0], t.buf[:0]
	if t.ended {
		return nil
	}
	t.start("", "")
	t.closeBlock()
	t.ended = true
	reason := t.reason
	if reason == "" {
		reason = "end_turn"
	}
	u := t.usage
	t.emit("message_delta", func(b []byte) []byte {
		b = append(b, `{"type":"message_delta","delta":{"stop_reason":`...)
		b = strconv.AppendQuote(b, reason) // a fixed ASCII name
		b = append(b, `,"stop_sequence":null},"usage":{"input_tokens":`...)
		b = strconv.AppendInt(b, u.InputTokens, 10)
		b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":`...)
		b = strconv.AppendInt(b, u.CacheReadInputTokens, 10)
		b = append(b, `,"output_tokens":`...)
		b = strconv.AppendInt(b, u.OutputTokens, 10)
		return append(b, "}}"...)
	})
	t.emit("message_stop", func(b []byte) []byte { return append(b, `{"type":"message_stop"}`...) })
	return t.events
}

// Ended reports whether End was called.
func (t *StreamTranslator) Ended() bool { return t.ended }

// Ping is the keep-alive event.
func Ping() Event { return Event{Name: "ping", Data: []byte(`{"type":"ping"}`)} }

// start emits message_start once.
func (t *StreamTranslator) start(id, model string) {
	if t.started {
		return
	}
	t.started = true
	if model == "" {
		model = t.opts.Model
	}
	msg := Message{ID: messageID(id, t.opts.ID), Type: "message", Role: "assistant", Model: model, Content: []ContentBlock{}, Usage: t.usage}
	raw, _ := json.Marshal(msg)
	t.emit("message_start", func(b []byte) []byte {
		b = append(b, `{"type":"message_start","message":`...)
		b = append(b, raw...)
		return append(b, '}')
	})
}

// text emits a text delta, opening a text block if needed.
func (t *StreamTranslator) text(s string) {
	if t.open < 0 || !t.openTxt {
		t.closeBlock()
		t.open, t.openTxt = t.next, true
		t.next++
		t.emit("content_block_start", func(b []byte) []byte {
			b = append(b, `{"type":"content_block_start","index":`...)
			b = strconv.AppendInt(b, int64(t.open), 10)
			return append(b, `,"content_block":{"type":"text","text":""}}`...)
		})
	}
	t.emit("content_block_delta", func(b []byte) []byte {
		b = append(b, `{"type":"content_block_delta","index":`...)
		b = strconv.AppendInt(b, int64(t.open), 10)
		b = append(b, `,"delta":{"type":"text_delta","text":`...)
		b = append(b, jsonpeek.Quote(s)...)
		return append(b, "}}"...)
	})
}

// tool handles one tool call delta: a call not seen before opens a
// tool_use block; argument fragments become input_json_delta events.
func (t *StreamTranslator) tool(idx int, id, name, args string) error {
	block, seen := t.tools[idx]
	if !seen {
		if t.tools == nil {
			t.tools = map[int]int{}
		}
		t.closeBlock()
		block = t.next
		t.tools[idx] = block
		t.open, t.openTxt = block, false
		t.next++
		if id == "" {
			id = "toolu_" + strings.TrimPrefix(messageID("", t.opts.ID), "msg_") + "_" + strconv.Itoa(block)
		}
		t.emit("content_block_start", func(b []byte) []byte {
			b = append(b, `{"type":"content_block_start","index":`...)
			b = strconv.AppendInt(b, int64(block), 10)
			b = append(b, `,"content_block":{"type":"tool_use","id":`...)
			b = append(b, jsonpeek.Quote(id)...)
			b = append(b, `,"name":`...)
			b = append(b, jsonpeek.Quote(name)...)
			return append(b, `,"input":{}}}`...)
		})
	}
	if args == "" {
		return nil
	}
	if block != t.open {
		return ErrInterleavedTools
	}
	t.emit("content_block_delta", func(b []byte) []byte {
		b = append(b, `{"type":"content_block_delta","index":`...)
		b = strconv.AppendInt(b, int64(block), 10)
		b = append(b, `,"delta":{"type":"input_json_delta","partial_json":`...)
		b = append(b, jsonpeek.Quote(args)...)
		return append(b, "}}"...)
	})
	return nil
}

func (t *StreamTranslator) closeBlock() {
	if t.open < 0 {
		return
	}
	i := t.open
	t.open = -1
	t.emit("content_block_stop", func(b []byte) []byte {
		b = append(b, `{"type":"content_block_stop","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		return append(b, '}')
	})
}

// emit appends an event whose data build appends to the shared buffer.
// When the buffer grows, earlier events keep pointing into the old array,
// which nothing writes to before the next call.
func (t *StreamTranslator) emit(name string, build func([]byte) []byte) {
	from := len(t.buf)
	t.buf = build(t.buf)
	t.events = append(t.events, Event{Name: name, Data: t.buf[from:len(t.buf):len(t.buf)]})
}
