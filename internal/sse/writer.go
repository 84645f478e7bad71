package sse

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// maxKeptBuffer is the largest event buffer a Writer keeps for reuse; a
// buffer grown beyond it by one huge event is released after the write.
const maxKeptBuffer = 1 << 20

// maxPooledBuffer is the largest event buffer Release gives back for
// other Writers.
const maxPooledBuffer = 64 << 10

// Writer emits Server-Sent Events. Each method builds the whole event in an
// internal buffer, hands it to the underlying writer in a single Write call
// and then flushes, so an event is never held back or split by buffering in
// tollgate.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	flush func() error // nil if w cannot be flushed
	buf   []byte
}

// NewWriter returns a Writer that writes events to w.
//
// If w is an http.ResponseWriter, each event is flushed through
// http.NewResponseController(w).Flush, which also reaches flushers wrapped by
// middleware that implements Unwrap; if that fails (for example with
// http.ErrNotSupported), the event method returns the error. Otherwise, if w
// has a Flush() error or Flush() method, it is called after each event. Any
// other writer is written to without flushing.
func NewWriter(w io.Writer) *Writer {
	sw := &Writer{w: w}
	if b, ok := writeBuffers.Get().(*[]byte); ok {
		sw.buf = (*b)[:0]
	}
	switch f := w.(type) {
	case http.ResponseWriter:
		sw.flush = http.NewResponseController(f).Flush
	case interface{ Flush() error }:
		sw.flush = f.Flush
	case interface{ Flush() }:
		sw.flush = func() error { f.Flush(); return nil }
	}
	return sw
}

// writeBuffers holds the event buffers of released Writers, so a relay
// that writes a stream per request does not grow one per request.
var writeBuffers sync.Pool

// Release gives the Writer's buffer back for reuse by other Writers; the
// Writer must not be used afterwards. Calling it is optional: a Writer
// that is not released is garbage collected with its buffer.
func (w *Writer) Release() {
	if w.buf != nil && cap(w.buf) <= maxPooledBuffer {
		b := w.buf[:0]
		writeBuffers.Put(&b)
	}
	w.buf = nil
}

// Data writes an event with the given data and no name: "data: " + data +
// "\n\n". Data containing line breaks (LF, CRLF or CR) is split into several
// data lines, so a Reader returns it with every line break turned into "\n".
func (w *Writer) Data(data []byte) error {
	w.buf = appendData(w.buf[:0], data)
	w.buf = append(w.buf, '\n')
	return w.send()
}

// Event writes an event with the given name and data: "event: " + name, the
// data lines as for Data, then a blank line. Line breaks in name are replaced
// by spaces. An empty name writes no event line, exactly like Data.
func (w *Writer) Event(name string, data []byte) error {
	buf := w.buf[:0]
	if name != "" {
		buf = append(buf, "event: "...)
		buf = appendOneLine(buf, name)
		buf = append(buf, '\n')
	}
	buf = appendData(buf, data)
	w.buf = append(buf, '\n')
	return w.send()
}

// EventNoFlush writes an event like Event but does not flush it, as
// DataNoFlush does for Data.
func (w *Writer) EventNoFlush(name string, data []byte) error {
	buf := w.buf[:0]
	if name != "" {
		buf = append(buf, "event: "...)
		buf = appendOneLine(buf, name)
		buf = append(buf, '\n')
	}
	buf = appendData(buf, data)
	w.buf = append(buf, '\n')
	return w.write()
}

// Comment writes a comment, ": " + text + "\n\n", which readers ignore; it
// serves as a keep-alive. Line breaks in text are replaced by spaces.
func (w *Writer) Comment(text string) error {
	buf := append(w.buf[:0], ": "...)
	buf = appendOneLine(buf, text)
	w.buf = append(buf, "\n\n"...)
	return w.send()
}

// Done writes the "data: [DONE]" event that ends an OpenAI stream.
func (w *Writer) Done() error {
	w.buf = append(w.buf[:0], "data: [DONE]\n\n"...)
	return w.send()
}

// DataNoFlush writes an event like Data but does not flush it: the caller
// knows another event follows at once and calls Flush (or Data) after it.
func (w *Writer) DataNoFlush(data []byte) error {
	w.buf = appendData(w.buf[:0], data)
	w.buf = append(w.buf, '\n')
	return w.write()
}

// Flush flushes what was written.
func (w *Writer) Flush() error {
	if w.flush == nil {
		return nil
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("sse: flushing event: %w", err)
	}
	return nil
}

// write writes the buffered event in one call.
func (w *Writer) write() error {
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > maxKeptBuffer {
		w.buf = nil
	}
	if err != nil {
		return fmt.Errorf("sse: writing event: %w", err)
	}
	return nil
}

// send writes the buffered event in one call and flushes it.
func (w *Writer) send() error {
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > maxKeptBuffer {
		w.buf = nil
	}
	if err != nil {
		return fmt.Errorf("sse: writing event: %w", err)
	}
	if w.flush == nil {
		return nil
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("sse: flushing event: %w", err)
	}
	return nil
}

// appendData appends data as one "data: " line per line of data.
func appendData(buf, data []byte) []byte {
	for {
		i := lineBreak(data)
		if i < 0 {
			buf = append(buf, "data: "...)
			buf = append(buf, data...)
			return append(buf, '\n')
		}
		buf = append(buf, "data: "...)
		buf = append(buf, data[:i]...)
		buf = append(buf, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// lineBreak returns the index of the first CR or LF in data, or -1.
func lineBreak(data []byte) int {
	lf := bytes.IndexByte(data, '\n')
	head := data
	if lf >= 0 {
		head = data[:lf]
	}
	if cr := bytes.IndexByte(head, '\r'); cr >= 0 {
		return cr
	}
	return lf
}

// appendOneLine appends s with CR and LF replaced by spaces.
func appendOneLine(buf []byte, s string) []byte {
	start := len(buf)
	buf = append(buf, s...)
	for i := start; i < len(buf); i++ {
		if buf[i] == '\r' || buf[i] == '\n' {
			buf[i] = ' '
		}
	}
	return buf
}
