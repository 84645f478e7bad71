package server

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "empty", id: ""},
		{name: "generated form", id: "req_0123456789abcdef01234567", want: true},
		{name: "uuid", id: "0b6c1f0e-9f7a-4a51-8c7e-2b1f0e9d8c7a", want: true},
		{name: "every allowed punctuation", id: "a.b_c-d:e", want: true},
		{name: "one character", id: "x", want: true},
		{name: "128 characters", id: strings.Repeat("a", 128), want: true},
		{name: "129 characters", id: strings.Repeat("a", 129)},
		{name: "space", id: "trace 1"},
		{name: "slash", id: "a/b"},
		{name: "newline (header injection)", id: "a\nb"},
		{name: "quote", id: `a"b`},
		{name: "non-ASCII", id: "trace-é"},
		{name: "NUL", id: "a\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validRequestID(tt.id); got != tt.want {
				t.Errorf("validRequestID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestNewRequestIDIsValidAndFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newRequestID()
		if !validRequestID(id) || !strings.HasPrefix(id, "req_") || len(id) != len("req_")+24 {
			t.Fatalf("newRequestID() = %q, want req_ and 24 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("newRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestNewRequestIDSortsByTime(t *testing.T) {
	before := time.Now().UnixMilli()
	id := newRequestID()
	after := time.Now().UnixMilli()
	ms, err := strconv.ParseInt(id[len("req_"):len("req_")+12], 16, 64)
	if err != nil || ms < before || ms > after {
		t.Fatalf("newRequestID() = %q: time part %d (%v), want between %d and %d", id, ms, err, before, after)
	}
	prev := id
	for range 1000 {
		next := newRequestID()
		if next[:len("req_")+12] < prev[:len("req_")+12] {
			t.Fatalf("newRequestID() = %q after %q: the time part went back", next, prev)
		}
		prev = next
	}
}
