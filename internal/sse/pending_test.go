package sse

import (
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
