package sse

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// flushRecorder counts the Write and Flush calls it gets.
type flushRecorder struct {
	bytes.Buffer
	writes, flushes int
	flushErr        error
}

func (f *flushRecorder) Write(p []byte) (int, error) {
	f.writes++
	return f.Buffer.Write(p)
}

func (f *flushRecorder) Flush() error {
	f.flushes++
	return f.flushErr
}

// plainFlusher has the http.Flusher style Flush without an error.
type plainFlusher struct {
	bytes.Buffer
	flushes int
}

func (f *plainFlusher) Flush() { f.flushes++ }

func TestWriterOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(w *Writer) error
		want  string
	}{
		{"data", func(w *Writer) error { return w.Data([]byte(`{"a":1}`)) }, "data: {\"a\":1}\n\n"},
		{"empty data", func(w *Writer) error { return w.Data(nil) }, "data: \n\n"},
		{"data with LF", func(w *Writer) error { return w.Data([]byte("a\nb")) }, "data: a\ndata: b\n\n"},
		{"data with CRLF and CR", func(w *Writer) error { return w.Data([]byte("a\r\nb\rc")) }, "data: a\ndata: b\ndata: c\n\n"},
		{"data with trailing LF", func(w *Writer) error { return w.Data([]byte("a\n")) }, "data: a\ndata: \n\n"},
		{"event", func(w *Writer) error { return w.Event("message_stop", []byte(`{}`)) }, "event: message_stop\ndata: {}\n\n"},
		{"event name with newline", func(w *Writer) error { return w.Event("a\nb", []byte("x\ny")) }, "event: a b\ndata: x\ndata: y\n\n"},
		{"event without name", func(w *Writer) error { return w.Event("", []byte("x")) }, "data: x\n\n"},
		{"comment", func(w *Writer) error { return w.Comment("ping") }, ": ping\n\n"},
		{"comment with newlines", func(w *Writer) error { return w.Comment("a\r\nb") }, ": a  b\n\n"},
		{"done", func(w *Writer) error { return w.Done() }, "data: [DONE]\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out flushRecorder
			w := NewWriter(&out)
			if err := tt.write(w); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("wrote %q, want %q", got, tt.want)
			}
			if out.writes != 1 || out.flushes != 1 {
				t.Errorf("got %d writes and %d flushes, want 1 and 1", out.writes, out.flushes)
			}
		})
	}
}

func TestWriterFlushes(t *testing.T) {
	t.Parallel()
	t.Run("response recorder", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w := NewWriter(rec)
		if err := w.Data([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if !rec.Flushed {
			t.Error("ResponseRecorder not flushed after an event")
		}
	})
	t.Run("flusher counted per event", func(t *testing.T) {
		var out flushRecorder
		w := NewWriter(&out)
		for i := range 3 {
			if err := w.Data([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if out.flushes != i+1 {
				t.Fatalf("after event %d: %d flushes", i+1, out.flushes)
			}
		}
	})
	t.Run("flusher without error", func(t *testing.T) {
		var out plainFlusher
		w := NewWriter(&out)
		if err := w.Comment("ok"); err != nil {
			t.Fatal(err)
		}
		if out.flushes != 1 {
			t.Errorf("%d flushes, want 1", out.flushes)
		}
	})
	t.Run("flush error returned", func(t *testing.T) {
		boom := errors.New("boom")
		w := NewWriter(&flushRecorder{flushErr: boom})
		if err := w.Done(); !errors.Is(err, boom) {
			t.Errorf("Done = %v, want %v", err, boom)
		}
	})
	t.Run("response writer that cannot flush", func(t *testing.T) {
		w := NewWriter(noFlushResponseWriter{httptest.NewRecorder()})
		if err := w.Data([]byte("x")); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Data = %v, want %v", err, http.ErrNotSupported)
		}
	})
	t.Run("plain writer", func(t *testing.T) {
		var buf strings.Builder
		w := NewWriter(&buf)
		if err := w.Data([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if buf.String() != "data: x\n\n" {
			t.Errorf("wrote %q", buf.String())
		}
	})
}

// noFlushResponseWriter hides the Flush method of the writer it wraps.
type noFlushResponseWriter struct{ rw http.ResponseWriter }

func (n noFlushResponseWriter) Header() http.Header         { return n.rw.Header() }
func (n noFlushResponseWriter) Write(p []byte) (int, error) { return n.rw.Write(p) }
func (n noFlushResponseWriter) WriteHeader(code int)        { n.rw.WriteHeader(code) }

func TestWriterWriteErrorReturned(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	pr.Close()
	w := NewWriter(pw)
	if err := w.Data([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Data = %v, want %v", err, io.ErrClosedPipe)
	}
}

// normalizeBreaks turns CRLF and CR into LF, as a Writer/Reader round trip does.
func normalizeBreaks(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// oneLine replaces CR and LF by spaces, as the Writer does for names.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// checkRoundTrip writes an event, a comment, a data-only event and [DONE],
// then reads them back.
func checkRoundTrip(t *testing.T, name string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, err := range []error{w.Event(name, data), w.Comment(name), w.Data(data), w.Done()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := readAll(NewReader(&buf, ReaderOptions{}))
	if err != io.EOF {
		t.Fatalf("reading back: %v", err)
	}
	want := []ev{{Name: oneLine(name), Data: normalizeBreaks(data)}, {Data: normalizeBreaks(data)}, {Data: "[DONE]"}}
	if len(got) != len(want) {
		t.Fatalf("read back %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
	if !IsDone([]byte(got[2].Data)) {
		t.Errorf("last event %q is not the done marker", got[2].Data)
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, event, data string
	}{
		{"json", "", chatChunk},
		{"named", "content_block_delta", `{"type":"text_delta"}`},
		{"empty", "e", ""},
		{"line breaks", "", "a\nb\r\nc\rd\n"},
		{"leading spaces kept", " x", "  two spaces"},
		{"only newlines", "", "\n\n\r\n"},
		{"colons", "a:b", "data: nested"},
		{"large", "", strings.Repeat("0123456789", 10<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRoundTrip(t, tt.event, []byte(tt.data))
		})
	}
}

func TestWriterSteadyStateAllocations(t *testing.T) {
	var out flushRecorder
	w := NewWriter(&out)
	data := []byte(chatChunk)
	allocs := testing.AllocsPerRun(200, func() {
		out.Reset()
		if err := w.Event("delta", data); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Event allocates %v times per event in the steady state, want 0", allocs)
	}
}
