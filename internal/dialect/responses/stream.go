package responses

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Event is one Responses stream event: Type is both the SSE event name and
// the "type" field of Data, a JSON object.
type Event struct {
	Type string
	Data []byte
}

// Stream translates one chat completion stream into Responses stream
// events: response.created and response.in_progress first, then for each
// output item its added event, its deltas and its done events, and last a
// terminal response.completed or response.incomplete (from [Stream.Done])
// or an error event and response.failed (from [Stream.Fail]). One output
// item is open at a time, so items are numbered in the order they start.
// Only the first choice of a chunk is read.
//
// A Stream is made per request and is not safe for concurrent use. The
// events a method returns are valid until the next call.
type Stream struct {
	meta    Meta
	resp    *Response // output holds the items closed so far
	seq     int
	started bool
	ended   bool
	finish  string
	usage   *chatUsage

	msg    *openMessage
	call   *openCall
	called map[int]bool // chat tool call indexes already seen
	calls  int          // function call items opened
	msgs   int          // message items opened

	out   []Event
	chunk chatChunk
}

type openMessage struct {
	index int
	id    string
	parts []Part
	kind  string // of the open part: "output_text", "refusal" or ""
	text  strings.Builder
}

type openCall struct {
	chatIndex int
	index     int
	id        string
	callID    string
	name      string
	args      strings.Builder
}

// chatChunk is the part of a chat.completion.chunk the translation reads.
type chatChunk struct {
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
	Usage *chatUsage `json:"usage"`
}

// NewStream returns the translator of one response's stream.
func NewStream(m Meta) *Stream {
	return &Stream{meta: m, called: map[int]bool{}}
}

// streamEvent is the data of every event type; fields an event type does
// not have are left out.
type streamEvent struct {
	Type         string     `json:"type"`
	Seq          int        `json:"sequence_number"`
	Response     *Response  `json:"response,omitempty"`
	OutputIndex  *int       `json:"output_index,omitempty"`
	ItemID       string     `json:"item_id,omitempty"`
	ContentIndex *int       `json:"content_index,omitempty"`
	Item         *Item      `json:"item,omitempty"`
	Part         *Part      `json:"part,omitempty"`
	Delta        *string    `json:"delta,omitempty"`
	Text         *string    `json:"text,omitempty"`
	Refusal      *string    `json:"refusal,omitempty"`
	Name         string     `json:"name,omitempty"`
	Arguments    *string    `json:"arguments,omitempty"`
	Logprobs     *[]any     `json:"logprobs,omitempty"`
	Code         *string    `json:"code,omitempty"`
	Message      *string    `json:"message,omitempty"`
	Param        *string    `json:"param,omitempty"`
	Error        *errorBody `json:"error,omitempty"`
}

// errorBody is the OpenAI error object carried by the error event.
type errorBody struct {
	Type    string  `json:"type"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

func (s *Stream) emit(ev streamEvent) {
	ev.Seq = s.seq
	s.seq++
	data, err := json.Marshal(ev)
	if err != nil {
		// Every field is a plain value or a validated raw message.
		panic(fmt.Sprintf("responses: encoding a %s event: %v", ev.Type, err))
	}
	s.out = append(s.out, Event{Type: ev.Type, Data: data})
}

// Chunk translates one chat.completion.chunk. It fails on data that is not
// a chat chunk and on tool call deltas that return to a call after another
// began, which a Responses stream cannot express.
func (s *Stream) Chunk(data []byte) ([]Event, error) {
	s.out = s.out[:0]
	if s.ended {
		return nil, fmt.Errorf("a chat chunk arrived after the response ended")
	}
	c := &s.chunk
	*c = chatChunk{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("decoding a chat chunk: %w", err)
	}
	if c.Model != "" {
		s.meta.Echo.Model = c.Model
		if s.started {
			s.resp.Model = c.Model
		}
	}
	s.start()
	if c.Usage != nil {
		s.usage = c.Usage
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		d := &ch.Delta
		if d.Content != nil {
			s.text("output_text", *d.Content)
		}
		if d.Refusal != nil {
			s.text("refusal", *d.Refusal)
		}
		for _, tc := range d.ToolCalls {
			if err := s.toolDelta(tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments); err != nil {
				return nil, err
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
		}
	}
	return s.out, nil
}

// Done ends a stream that completed: it closes the open item and emits
// response.completed, or response.incomplete when the answer was cut by
// max_output_tokens or a content filter.
func (s *Stream) Done() []Event {
	s.out = s.out[:0]
	if s.ended {
		return nil
	}
	s.start()
	s.closeMessage()
	s.closeCall()
	s.ended = true
	s.resp.finish(s.finish)
	s.resp.Usage = s.usage.toUsage()
	s.emit(streamEvent{Type: "response." + s.resp.Status, Response: s.resp})
	return s.out
}

// Fail ends a stream that broke: an error event, then response.failed
// with the items delivered so far (an open one marked incomplete). The
// error event carries code, message and param as documented, and an
// OpenAI "error" object too, so that SDKs which raise on an "error" key
// (openai-go, openai-python) raise instead of returning part of an answer.
func (s *Stream) Fail(typ, code, message string) []Event {
	s.out = s.out[:0]
	if s.ended {
		return nil
	}
	s.start()
	s.ended = true
	s.emit(streamEvent{Type: "error", Code: &code, Message: &message, Error: &errorBody{Type: typ, Code: code, Message: message}})
	if m := s.msg; m != nil {
		s.closePart(false)
		s.resp.Output = append(s.resp.Output, Item{ID: m.id, Type: "message", Status: StatusIncomplete, Role: "assistant", Content: &m.parts})
	}
	if c := s.call; c != nil {
		args := c.args.String()
		s.resp.Output = append(s.resp.Output, Item{ID: c.id, Type: "function_call", Status: StatusIncomplete, CallID: c.callID, Name: c.name, Arguments: &args})
	}
	s.msg, s.call = nil, nil
	s.resp.Status, s.resp.Error = StatusFailed, &ErrorInfo{Code: code, Message: message}
	s.resp.Usage = s.usage.toUsage()
	s.emit(streamEvent{Type: "response.failed", Response: s.resp})
	return s.out
}

// start emits response.created and response.in_progress, once.
func (s *Stream) start() {
	if s.started {
		return
	}
	s.started = true
	s.resp = s.meta.newResponse(StatusInProgress)
	s.emit(streamEvent{Type: "response.created", Response: s.resp})
	s.emit(streamEvent{Type: "response.in_progress", Response: s.resp})
}

// text adds a text or refusal delta to the open message, opening the
// message and the part as needed.
func (s *Stream) text(kind, delta string) {
	if delta == "" {
		return
	}
	s.closeCall()
	if s.msg == nil {
		s.msg = &openMessage{index: len(s.resp.Output), id: s.meta.itemID("msg", s.msgs)}
		s.msgs++
		s.emit(streamEvent{Type: "response.output_item.added", OutputIndex: &s.msg.index,
			Item: &Item{ID: s.msg.id, Type: "message", Status: StatusInProgress, Role: "assistant", Content: &[]Part{}}})
	}
	m := s.msg
	if m.kind != kind {
		s.closePart(true)
		m.kind = kind
		part := textPart("")
		if kind == "refusal" {
			part = refusalPart("")
		}
		s.emit(streamEvent{Type: "response.content_part.added", ItemID: m.id, OutputIndex: &m.index, ContentIndex: intp(len(m.parts)), Part: &part})
	}
	m.text.WriteString(delta)
	ev := streamEvent{Type: "response.output_text.delta", ItemID: m.id, OutputIndex: &m.index, ContentIndex: intp(len(m.parts)), Delta: &delta}
	if kind == "refusal" {
		ev.Type = "response.refusal.delta"
	} else {
		ev.Logprobs = &[]any{}
	}
	s.emit(ev)
}

// closePart ends the open content part, with its done events if emit.
func (s *Stream) closePart(emit bool) {
	m := s.msg
	if m == nil || m.kind == "" {
		return
	}
	text := m.text.String()
	part := textPart(text)
	ev := streamEvent{Type: "response.output_text.done", ItemID: m.id, OutputIndex: &m.index, ContentIndex: intp(len(m.parts)), Text: &text, Logprobs: &[]any{}}
	if m.kind == "refusal" {
		part = refusalPart(text)
		ev = streamEvent{Type: "response.refusal.done", ItemID: m.id, OutputIndex: &m.index, ContentIndex: ev.ContentIndex, Refusal: &text}
	}
	if emit {
		s.emit(ev)
		s.emit(streamEvent{Type: "response.content_part.done", ItemID: m.id, OutputIndex: &m.index, ContentIndex: ev.ContentIndex, Part: &part})
	}
	m.parts = append(m.parts, part)
	m.kind = ""
	m.text.Reset()
}

// closeMessage ends the open message item.
func (s *Stream) closeMessage() {
	m := s.msg
	if m == nil {
		return
	}
	s.closePart(true)
	item := Item{ID: m.id, Type: "message", Status: StatusCompleted, Role: "assistant", Content: &m.parts}
	s.emit(streamEvent{Type: "response.output_item.done", OutputIndex: &m.index, Item: &item})
	s.resp.Output = append(s.resp.Output, item)
	s.msg = nil
}

// toolDelta adds a tool call delta. A delta without an index continues the
// open call, or starts a new one when it carries an id.
func (s *Stream) toolDelta(index *int, id, name, args string) error {
	ci := 0
	switch {
	case index != nil:
		ci = *index
	case s.call != nil && id == "":
		ci = s.call.chatIndex
	case s.call != nil:
		ci = s.call.chatIndex + 1
	}
	c := s.call
	if c == nil || c.chatIndex != ci {
		if s.called[ci] {
			return fmt.Errorf("the upstream went back to tool call %d after another began", ci)
		}
		s.called[ci] = true
		s.closeMessage()
		s.closeCall()
		c = &openCall{chatIndex: ci, index: len(s.resp.Output), id: s.meta.itemID("fc", s.calls), callID: s.meta.callID(id, s.calls), name: name}
		s.calls++
		s.call = c
		empty := ""
		s.emit(streamEvent{Type: "response.output_item.added", OutputIndex: &c.index,
			Item: &Item{ID: c.id, Type: "function_call", Status: StatusInProgress, CallID: c.callID, Name: c.name, Arguments: &empty}})
	} else if c.name == "" {
		c.name = name
	}
	if args != "" {
		c.args.WriteString(args)
		s.emit(streamEvent{Type: "response.function_call_arguments.delta", ItemID: c.id, OutputIndex: &c.index, Delta: &args})
	}
	return nil
}

// closeCall ends the open function call item.
func (s *Stream) closeCall() {
	c := s.call
	if c == nil {
		return
	}
	args := c.args.String()
	s.emit(streamEvent{Type: "response.function_call_arguments.done", ItemID: c.id, OutputIndex: &c.index, Name: c.name, Arguments: &args})
	item := Item{ID: c.id, Type: "function_call", Status: StatusCompleted, CallID: c.callID, Name: c.name, Arguments: &args}
	s.emit(streamEvent{Type: "response.output_item.done", OutputIndex: &c.index, Item: &item})
	s.resp.Output = append(s.resp.Output, item)
	s.call = nil
}

func intp(n int) *int { return &n }
