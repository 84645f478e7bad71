package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// refEvents is a deliberately naive reading of the WHATWG grammar over a
// whole input, used as the oracle for FuzzReader. truncated reports that
// the input ended inside an event.
func refEvents(in string) (events []ev, truncated bool) {
	in = strings.TrimPrefix(in, "\xEF\xBB\xBF")
	var lines []string
	for in != "" {
		i := strings.IndexAny(in, "\r\n")
		if i < 0 {
			lines = append(lines, in)
			break
		}
		lines = append(lines, in[:i])
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			i++
		}
		in = in[i+1:]
	}
	var data []string
	var name, id string
	pending := false
	for _, line := range lines {
		switch {
		case line == "":
			if len(data) > 0 || name != "" {
				events = append(events, ev{Name: name, Data: strings.Join(data, "\n"), ID: id})
			}
			data, name, pending = nil, "", false
			continue
		case line[0] == ':':
			continue
		}
		pending = true
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "data":
			data = append(data, value)
		case "event":
			name = value
		case "id":
			if !strings.Contains(value, "\x00") {
				id = value
			}
		}
	}
	return events, pending
}

// readBounded is readAll that gives up after limit events.
func readBounded(t *testing.T, r *Reader, limit int) ([]ev, error) {
	var out []ev
	for {
		e, err := r.Next()
		if err != nil {
			return out, err
		}
		if len(out) > limit {
			t.Fatalf("more than %d events from %d bytes of input", limit, limit)
		}
		out = append(out, ev{Name: e.Name, Data: string(e.Data), ID: e.ID})
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n",
		"data: a\r\ndata: b\rdata: c\n\r\n",
		"\xEF\xBB\xBFevent: x\ndata\n\n: c\nid: 1\nretry: 5\n\n",
		"event: ping\n\ndata: [DONE]\n\n",
		"data: truncated",
		"data:" + strings.Repeat("x", 100) + "\n\n",
		"\r\r\n\n\r",
	} {
		f.Add([]byte(s))
	}
	const small = 64
	f.Fuzz(func(t *testing.T, in []byte) {
		want, truncated := refEvents(string(in))
		wantErr := io.EOF
		if truncated {
			wantErr = io.ErrUnexpectedEOF
		}

		got, err := readBounded(t, NewReader(bytes.NewReader(in), ReaderOptions{}), len(in))
		if !errors.Is(err, wantErr) {
			t.Fatalf("final error = %v, want %v", err, wantErr)
		}
		if !equalEvents(got, want) {
			t.Fatalf("events = %q, want %q", got, want)
		}

		limited := NewReader(iotest.OneByteReader(bytes.NewReader(in)), ReaderOptions{MaxEventBytes: small})
		got, err = readBounded(t, limited, len(in))
		for _, e := range got {
			if len(e.Data) > small {
				t.Fatalf("event data of %d bytes with a limit of %d", len(e.Data), small)
			}
		}
		if errors.Is(err, ErrEventTooLarge) {
			want = want[:min(len(got), len(want))]
		} else if !errors.Is(err, wantErr) {
			t.Fatalf("limited reader: final error = %v, want %v", err, wantErr)
		}
		if !equalEvents(got, want) {
			t.Fatalf("limited reader: events = %q, want %q", got, want)
		}
	})
}

func equalEvents(a, b []ev) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzWriterRoundTrip checks that whatever a Writer writes, a Reader reads
// back: the same data with CRLF and CR turned into LF, and the event name with
// line breaks turned into spaces.
func FuzzWriterRoundTrip(f *testing.F) {
	f.Add("", []byte(chatChunk))
	f.Add("message_delta", []byte("a\r\nb\rc\n"))
	f.Add(" \n", []byte{})
	f.Add("x", []byte("\xEF\xBB\xBF: not a comment\n\n\ndata: x"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		checkRoundTrip(t, name, data)
	})
}
