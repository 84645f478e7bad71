package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxEventBytes is the limit a [Reader] applies when
// ReaderOptions.MaxEventBytes is zero: 16 MiB.
const DefaultMaxEventBytes = 16 << 20

// readBufferSize is the size of the Reader's bufio buffer. Lines that fit in
// it are parsed in place; longer ones are accumulated in a separate buffer.
// It is allocated for every stream, so it is kept small: an upstream's
// HTTP/1.1 body arrives through the transport's own 4 KiB buffer anyway,
// and a chat chunk is a few hundred bytes.
const readBufferSize = 8 << 10

// ErrEventTooLarge is returned by [Reader.Next] when one line, or the data of
// one event, is longer than the reader's MaxEventBytes.
var ErrEventTooLarge = errors.New("sse: event too large")

var utf8BOM = []byte("\xEF\xBB\xBF")

// Event is one dispatched event.
type Event struct {
	// Name is the value of the last "event" field of the event, or "" if it
	// had none (EventSource would call such an event "message").
	Name string
	// Data is the values of the event's "data" fields joined with "\n". It
	// aliases the Reader's internal buffer and is only valid until the next
	// call to Next; copy it to keep it.
	Data []byte
	// ID is the value of the most recent "id" field in the stream, or "" if
	// there was none. As in EventSource, it carries over to later events that
	// have no "id" field of their own.
	ID string
}

// ReaderOptions configures a [Reader]. The zero value is ready to use.
type ReaderOptions struct {
	// MaxEventBytes bounds the length of one line (without its terminator)
	// and the size of one event's data (each data value plus one byte per
	// data line). A longer line or event makes Next return ErrEventTooLarge.
	// Zero or negative means DefaultMaxEventBytes.
	MaxEventBytes int
}

// Reader parses a stream of Server-Sent Events from an io.Reader.
//
// It accepts lines ending in CRLF, LF or a lone CR, ignores a leading UTF-8
// byte order mark, skips comment lines (those starting with ':'), strips one
// space after a field's colon, and ignores "retry" and unknown fields.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	max int
	buf *buffers // br and the first data buffer, from bufferPool

	// rest is the unparsed tail of the last slice returned by br.ReadSlice;
	// it stays valid because br is not read again until rest is used up.
	rest   []byte
	long   []byte // accumulates a line that spans several reads
	skipLF bool   // the last line ended in CR: drop an LF that follows it
	eof    bool   // br has reported io.EOF
	bom    bool   // the first line has not been read yet
	err    error  // sticky error returned by every later call to Next

	data    []byte // data buffer of the current event, reused across events
	hasName bool   // the current event has a non-empty "event" field
	name    string // last event name seen, kept to avoid reallocating it
	id      string // last event ID
}

// NewReader returns a Reader that parses events from r, buffering its input.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	maxBytes := opts.MaxEventBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	b := bufferPool.Get().(*buffers)
	b.br.Reset(r)
	return &Reader{
		br:   b.br,
		buf:  b,
		data: b.data[:0],
		max:  maxBytes,
		bom:  true,
	}
}

// buffers are a Reader's read buffer and event data buffer.
type buffers struct {
	br   *bufio.Reader
	data []byte
}

// maxPooledData bounds the data buffer a released Reader gives back; a
// larger one (a rare huge event) is left to the garbage collector.
const maxPooledData = 64 << 10

// bufferPool holds the buffers of released Readers, so a relay that opens
// a stream per request does not allocate them per request.
var bufferPool = sync.Pool{New: func() any {
	return &buffers{br: bufio.NewReaderSize(nil, readBufferSize), data: make([]byte, 0, 1024)}
}}

// Release gives the Reader's buffer back for reuse by other Readers. It is
// for a caller that is done with the stream (it saw the end marker, or it
// is abandoning the stream) and is called from the goroutine that calls
// Next: the data of the last event returned is no longer valid, and Next
// returns io.EOF from then on. Calling it again does nothing.
func (r *Reader) Release() {
	if r.br == nil {
		return
	}
	r.br.Reset(nil)
	if cap(r.data) <= maxPooledData {
		r.buf.data = r.data[:0]
	}
	bufferPool.Put(r.buf)
	r.br, r.buf, r.rest, r.long, r.data = nil, nil, nil, nil, nil
	if r.err == nil {
		r.err = io.EOF
	}
}

// Next returns the next event of the stream.
//
// An event is dispatched by a blank line if it has data or a non-empty event
// name; an event with a name but no data is returned with empty Data, so a
// caller can skip it. Next returns io.EOF at the clean end of input, that is
// when nothing but blank lines and comments follows the last dispatched
// event. If the input ends after some fields of an event but before the blank
// line that dispatches it, the event is discarded, as the WHATWG grammar
// requires, and Next returns an error that wraps io.ErrUnexpectedEOF. Errors
// other than io.EOF are sticky: every later call returns the same error.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	r.data = r.data[:0]
	r.hasName = false
	sawField := false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && sawField {
				err = fmt.Errorf("sse: stream ended inside an event: %w", io.ErrUnexpectedEOF)
			} else if err != io.EOF {
				err = fmt.Errorf("sse: reading stream: %w", err)
			}
			r.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if len(r.data) > 0 || r.hasName {
				return r.dispatch(), nil
			}
			sawField = false
			continue
		}
		if line[0] == ':' {
			continue
		}
		sawField = true
		if err := r.field(line); err != nil {
			r.err = err
			return Event{}, err
		}
	}
}

// dispatch builds the Event for the fields gathered so far.
func (r *Reader) dispatch() Event {
	ev := Event{ID: r.id}
	if r.hasName {
		ev.Name = r.name
	}
	if n := len(r.data); n > 0 {
		ev.Data = r.data[: n-1 : n-1]
	} else {
		ev.Data = r.data[:0:0]
	}
	return ev
}

// field processes one non-blank, non-comment line.
func (r *Reader) field(line []byte) error {
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if len(r.data)+len(value)+1 > r.max {
			return ErrEventTooLarge
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "event":
		r.hasName = len(value) > 0
		if r.hasName && string(value) != r.name {
			r.name = string(value)
		}
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != r.id {
			r.id = string(value)
		}
	}
	return nil
}

// readLine returns the next line without its terminator. The line aliases
// either the bufio buffer or r.long and is valid until the next call. A final
// line without a terminator is returned as a line; after it, readLine returns
// io.EOF.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.scanLine()
	if err != nil {
		return nil, err
	}
	if r.bom {
		r.bom = false
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	return line, nil
}

func (r *Reader) scanLine() ([]byte, error) {
	r.long = r.long[:0]
	partial := false
	for {
		if len(r.rest) == 0 {
			if r.eof {
				if partial {
					return r.long, nil
				}
				return nil, io.EOF
			}
			if err := r.fill(); err != nil {
				return nil, err
			}
			continue
		}
		line, ok := r.cut()
		if !ok {
			// No terminator in what is buffered: keep it and read on.
			if len(r.long)+len(line) > r.max {
				return nil, ErrEventTooLarge
			}
			r.long = append(r.long, line...)
			partial = true
			continue
		}
		if partial {
			line = append(r.long, line...)
			r.long = line
		}
		if len(line) > r.max {
			return nil, ErrEventTooLarge
		}
		return line, nil
	}
}

// fill reads the next slice from br into r.rest.
func (r *Reader) fill() error {
	chunk, err := r.br.ReadSlice('\n')
	switch err {
	case nil, bufio.ErrBufferFull:
	case io.EOF:
		r.eof = true
	default:
		return err
	}
	if r.skipLF && len(chunk) > 0 {
		r.skipLF = false
		if chunk[0] == '\n' {
			chunk = chunk[1:]
		}
	}
	r.rest = chunk
	return nil
}

// cut splits the first line off r.rest. ok is false if r.rest holds no line
// terminator, in which case line is all of r.rest.
func (r *Reader) cut() (line []byte, ok bool) {
	rest := r.rest
	n := len(rest)
	// ReadSlice returns at most one LF, at the end; CRs may be anywhere.
	cr := bytes.IndexByte(rest, '\r')
	if cr < 0 {
		r.rest = nil
		if rest[n-1] != '\n' {
			return rest, false
		}
		return rest[:n-1], true
	}
	switch {
	case cr+1 == n:
		r.rest = nil
		r.skipLF = true
	case rest[cr+1] == '\n':
		r.rest = rest[cr+2:]
	default:
		r.rest = rest[cr+1:]
	}
	return rest[:cr], true
}

// IsDone reports whether data is the "[DONE]" marker that ends an OpenAI
// stream, ignoring surrounding spaces and tabs.
func IsDone(data []byte) bool {
	return string(bytes.Trim(data, " \t")) == "[DONE]"
}

// Pending reports whether the input already buffered holds the whole next
// event with data, so that Next will return it without waiting for the
// network. A relay uses it to send events that arrived together with one
// flush, while still flushing at once whenever nothing more is waiting.
func (r *Reader) Pending() bool {
	if len(r.rest) > 0 || r.err != nil || r.eof {
		return false
	}
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, err := r.br.Peek(n)
	if err != nil {
		return false
	}
	end := blankLine(b)
	return end >= 0 && bytes.Contains(b[:end], []byte("data"))
}

// blankLine returns the index of the first empty line in b (the end of an
// event), or -1. It is called for every event while events arrive in a
// burst, so it looks for the LF form first and searches for the CR forms
// only before it: the cost is that of the first event, not of everything
// buffered.
func blankLine(b []byte) int {
	end := bytes.Index(b, []byte("\n\n"))
	head := b
	if end >= 0 {
		// A CR form that starts before end lies within b[:end+2].
		head = b[:min(len(b), end+2)]
	}
	for _, sep := range [...]string{"\r\n\r\n", "\r\r"} {
		if i := bytes.Index(head, []byte(sep)); i >= 0 && (end < 0 || i < end) {
			end = i
		}
	}
	return end
}
