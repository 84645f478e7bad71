package readall

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestInto(t *testing.T) {
	long := strings.Repeat("abcdefgh", 1000)
	tests := []struct {
		name     string
		r        io.Reader
		capacity int
		want     string
		wantErr  bool
		allocs   bool // whether the buffer had to grow
	}{
		{name: "exact capacity plus one", r: strings.NewReader("hello"), capacity: 6, want: "hello"},
		{name: "exact capacity", r: strings.NewReader("hello"), capacity: 5, want: "hello", allocs: true},
		{name: "too small", r: strings.NewReader(long), capacity: 16, want: long, allocs: true},
		{name: "no capacity", r: strings.NewReader(long), want: long, allocs: true},
		{name: "empty", r: strings.NewReader(""), capacity: 1, want: ""},
		{name: "one byte at a time", r: iotest.OneByteReader(strings.NewReader(long)), capacity: len(long) + 1, want: long},
		{name: "data with EOF", r: iotest.DataErrReader(strings.NewReader("hello")), capacity: 8, want: "hello"},
		{name: "error after data", r: io.MultiReader(strings.NewReader("part"), iotest.ErrReader(errors.New("cut"))),
			capacity: 8, want: "part", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, 0, tt.capacity)
			got, err := Into(tt.r, buf)
			if string(got) != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("Into = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			grew := cap(got) != cap(buf) || (len(got) > 0 && &got[0] != &buf[:1][0])
			if grew != tt.allocs {
				t.Errorf("the buffer grew: %v, want %v", grew, tt.allocs)
			}
		})
	}
}
