package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestPending checks that Pending is true only when the next whole event
// with data is already buffered, so a relay never holds an event back
// while waiting on the network.
func TestPending(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool // after reading the first event
	}{
		{"nothing more", "data: a\n\n", false},
		{"whole next event", "data: a\n\ndata: b\n\n", true},
		{"half of the next event", "data: a\n\ndata: b\n", false},
		{"only a comment next", "data: a\n\n: ping\n\n", false},
		{"CRLF event next", "data: a\r\n\r\ndata: b\r\n\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.input), ReaderOptions{})
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			// The reader fills its buffer on the first read, so what is
			// left is buffered.
			if got := r.Pending(); got != tt.want {
				t.Fatalf("Pending = %v, want %v", got, tt.want)
			}
			if tt.want {
				if _, err := r.Next(); err != nil && err != io.EOF {
					t.Fatal(err)
				}
			}
		})
	}
}

// blankLineReference is the plain definition of blankLine: the earliest of
// the three forms of an empty line, each searched in the whole input.
func blankLineReference(b []byte) int {
	end := -1
	for _, sep := range []string{"\n\n", "\r\n\r\n", "\r\r"} {
		if i := bytes.Index(b, []byte(sep)); i >= 0 && (end < 0 || i < end) {
			end = i
		}
	}
	return end
}

// FuzzBlankLine checks that blankLine, which limits its CR searches to
// the part before the first LF form, finds what the plain definition does.
func FuzzBlankLine(f *testing.F) {
	for _, s := range []string{
		"data: a\n\ndata: b\n\n", "data: a\r\n\r\ndata: b\n\n", "data: a\r\rx\n\n",
		"data: a\r\n\n", "\n\r\n\r\n", "\r\n\r\n\n\n", "x\r\r\n\n", "data: a\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := blankLine(b), blankLineReference(b); got != want {
			t.Fatalf("blankLine(%q) = %d, want %d", b, got, want)
		}
	})
}
