package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// ev is an Event with Data as a string, for comparisons.
type ev struct {
	Name, Data, ID string
}

// readAll reads events until Next fails and returns them with that error.
func readAll(r *Reader) ([]ev, error) {
	var out []ev
	for {
		e, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev{Name: e.Name, Data: string(e.Data), ID: e.ID})
	}
}

// sources wraps an input in readers that deliver it in different chunkings.
var sources = []struct {
	name string
	wrap func(string) io.Reader
}{
	{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
	{"one-byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
	{"half", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
	{"data-err", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
}

func TestReaderNext(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100<<10)
	// A CR ends exactly at the end of the first 32 KiB read and its LF
	// starts the second one: the pair must count as one line break.
	straddle := "data: " + strings.Repeat("y", readBufferSize-7) + "\r\ndata: z\r\r"
	tests := []struct {
		name    string
		in      string
		max     int
		want    []ev
		wantErr error
	}{
		{name: "empty input", in: ""},
		{name: "blank lines only", in: "\n\r\n\r\n\r"},
		{name: "LF", in: "data: a\n\n", want: []ev{{Data: "a"}}},
		{name: "CRLF", in: "data: a\r\n\r\n", want: []ev{{Data: "a"}}},
		{name: "lone CR", in: "data: a\r\r", want: []ev{{Data: "a"}}},
		{name: "mixed line endings", in: "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r\n", want: []ev{{Data: "a\nb\nc"}, {Data: "d"}}},
		{name: "CR then LF is one break", in: "data: a\r\n\ndata: b\n\n", want: []ev{{Data: "a"}, {Data: "b"}}},
		{name: "BOM ignored", in: "\xEF\xBB\xBFdata: a\n\n", want: []ev{{Data: "a"}}},
		{name: "BOM only at start", in: "\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n", want: []ev{{Data: "a"}}},
		{name: "comments skipped", in: ": ok\n\ndata: a\n: ping\n\n:\n\n", want: []ev{{Data: "a"}}},
		{name: "multiple data lines", in: "data: a\ndata: b\ndata: c\n\n", want: []ev{{Data: "a\nb\nc"}}},
		{name: "event name", in: "event: message_start\ndata: {}\n\n", want: []ev{{Name: "message_start", Data: "{}"}}},
		{name: "last event name wins", in: "event: a\nevent: b\ndata: x\n\n", want: []ev{{Name: "b", Data: "x"}}},
		{name: "name without data dispatched", in: "event: ping\n\n", want: []ev{{Name: "ping"}}},
		{name: "empty name without data skipped", in: "event:\n\ndata: a\n\n", want: []ev{{Data: "a"}}},
		{name: "name reset after dispatch", in: "event: x\ndata: 1\n\ndata: 2\n\n", want: []ev{{Name: "x", Data: "1"}, {Data: "2"}}},
		{name: "no space after colon", in: "data:a\nevent:e\n\n", want: []ev{{Name: "e", Data: "a"}}},
		{name: "only one space stripped", in: "data:  a \n\n", want: []ev{{Data: " a "}}},
		{name: "colon in value", in: "data: {\"a\":1}\n\n", want: []ev{{Data: `{"a":1}`}}},
		{name: "empty data with colon", in: "data:\n\n", want: []ev{{Data: ""}}},
		{name: "empty data without colon", in: "data\n\n", want: []ev{{Data: ""}}},
		{name: "two empty data lines", in: "data\ndata:\n\n", want: []ev{{Data: "\n"}}},
		{name: "done marker", in: "data: {}\n\ndata: [DONE]\n\n", want: []ev{{Data: "{}"}, {Data: "[DONE]"}}},
		{name: "unknown fields and retry ignored", in: "retry: 100\nfoo: bar\nDATA: no\ndata : no\ndata: a\n\n", want: []ev{{Data: "a"}}},
		{name: "fields without data not dispatched", in: "retry: 1\nfoo\n\ndata: a\n\n", want: []ev{{Data: "a"}}},
		{name: "id carries over", in: "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", want: []ev{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}, {Data: "c"}}},
		{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", want: []ev{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}},
		{name: "final comment without newline", in: "data: a\n\n: bye", want: []ev{{Data: "a"}}},
		{name: "line longer than read buffer", in: "data: " + long + "\ndata: b\n\n", want: []ev{{Data: long + "\nb"}}},
		{name: "CRLF straddling reads", in: straddle, want: []ev{{Data: straddle[6:readBufferSize-1] + "\nz"}}},
		{name: "truncated after field", in: "data: a\n\ndata: b\n", want: []ev{{Data: "a"}}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated mid line", in: "data: a", wantErr: io.ErrUnexpectedEOF},
		{name: "truncated before blank line", in: "event: x\ndata: a\n", wantErr: io.ErrUnexpectedEOF},
		{name: "line too long", in: "data: " + strings.Repeat("a", 100) + "\n\n", max: 64, wantErr: ErrEventTooLarge},
		{name: "long comment too long", in: ": " + strings.Repeat("a", 100) + "\n\n", max: 64, wantErr: ErrEventTooLarge},
		{name: "event too large", in: strings.Repeat("data: 0123456789\n", 10) + "\n", max: 64, wantErr: ErrEventTooLarge},
		{name: "event at limit", in: "data: 0123456\ndata: 0123456\n\n", max: 16, want: []ev{{Data: "0123456\n0123456"}}},
		{name: "line beyond buffer and limit", in: "data: " + long + "\n\n", max: 64 << 10, wantErr: ErrEventTooLarge},
	}
	for _, tt := range tests {
		for _, src := range sources {
			t.Run(tt.name+"/"+src.name, func(t *testing.T) {
				t.Parallel()
				r := NewReader(src.wrap(tt.in), ReaderOptions{MaxEventBytes: tt.max})
				got, err := readAll(r)
				wantErr := tt.wantErr
				if wantErr == nil {
					wantErr = io.EOF
				}
				if !errors.Is(err, wantErr) {
					t.Fatalf("final error = %v, want %v", err, wantErr)
				}
				if wantErr == io.EOF && err != io.EOF {
					t.Fatalf("final error = %#v, want io.EOF itself", err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d events %q, want %d %q", len(got), trim(got), len(tt.want), trim(tt.want))
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("event %d = %q, want %q", i, trim(got[i:i+1]), trim(tt.want[i:i+1]))
					}
				}
				if _, again := r.Next(); again != err {
					t.Errorf("Next after end = %v, want the same error %v", again, err)
				}
			})
		}
	}
}

// trim shortens long event data for failure messages.
func trim(evs []ev) []ev {
	out := make([]ev, len(evs))
	for i, e := range evs {
		if len(e.Data) > 40 {
			e.Data = e.Data[:20] + "..." + e.Data[len(e.Data)-20:]
		}
		out[i] = e
	}
	return out
}

// errAfter returns its data, then err.
type errAfter struct {
	data string
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.data == "" {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReaderReadErrorIsSticky(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	r := NewReader(&errAfter{data: "data: a\n\ndata: b", err: boom}, ReaderOptions{})
	got, err := readAll(r)
	if len(got) != 1 || got[0].Data != "a" {
		t.Fatalf("events = %q, want one with data a", got)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want %v", err, boom)
	}
	if _, again := r.Next(); !errors.Is(again, boom) {
		t.Fatalf("second error = %v, want %v", again, boom)
	}
}

func TestIsDone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"[DONE]", true},
		{" [DONE] ", true},
		{"\t[DONE]", true},
		{"[done]", false},
		{"[DONE]x", false},
		{"", false},
		{`"[DONE]"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := IsDone([]byte(tt.in)); got != tt.want {
				t.Errorf("IsDone(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// repeatReader yields its pattern over and over, never ending.
type repeatReader struct {
	pattern []byte
	off     int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	return n, nil
}

func TestReaderSteadyStateAllocations(t *testing.T) {
	stream := "id: 7\nevent: content_block_delta\ndata: " + chatChunk + "\n\n: ping\n\n"
	r := NewReader(&repeatReader{pattern: []byte(stream)}, ReaderOptions{})
	if _, err := r.Next(); err != nil { // warm up: buffers grow, strings are set
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		e, err := r.Next()
		if err != nil || len(e.Data) != len(chatChunk) {
			t.Fatalf("Next = %q, %v", e.Data, err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per event in the steady state, want 0", allocs)
	}
}

func TestReleaseEndsTheReaderAndRecyclesItsBuffer(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "after the last event", in: "data: a\n\ndata: [DONE]\n\n"},
		{name: "with input left", in: "data: a\n\ndata: b\n\ndata: c\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), ReaderOptions{})
			if ev, err := r.Next(); err != nil || string(ev.Data) != "a" {
				t.Fatalf("Next() = %q, %v; want a", ev.Data, err)
			}
			r.Release()
			r.Release() // a second call does nothing
			if ev, err := r.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("Next() after Release = %q, %v; want io.EOF", ev.Data, err)
			}
			if r.Pending() {
				t.Fatal("Pending() after Release = true")
			}
			// A Reader made afterwards, likely on the recycled buffer,
			// starts from a clean state.
			r2 := NewReader(strings.NewReader("data: x\n\n"), ReaderOptions{})
			if ev, err := r2.Next(); err != nil || string(ev.Data) != "x" {
				t.Fatalf("new Reader: Next() = %q, %v; want x", ev.Data, err)
			}
			if _, err := r2.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("new Reader: second Next() error = %v, want io.EOF", err)
			}
		})
	}
}
