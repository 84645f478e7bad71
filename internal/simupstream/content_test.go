package simupstream

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"plain", "hello world"},
		{"quotes and backslash", `say "hi" \ bye`},
		{"controls", "a\nb\tc\rd\x00e\x1f"},
		{"unicode", "héllo 世界 🙂"},
		{"invalid utf-8", "bad \xff\xfe end"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := appendJSONString(nil, tt.in)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%s is not a JSON string: %v", got, err)
			}
			want, _ := json.Marshal(tt.in)
			var wantBack string
			_ = json.Unmarshal(want, &wantBack)
			if back != wantBack {
				t.Errorf("decodes to %q, want %q", back, wantBack)
			}
		})
	}
}

func TestSplitFragments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		minParts int
	}{
		{"short", `{"q":""}`, 3},
		{"long", `{"query":"find the weather in paris today"}`, 3},
		{"multibyte", `{"query":"été 世界 🙂🙂🙂"}`, 3},
		{"two runes", "ab", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parts := splitFragments(tt.in)
			if len(parts) < tt.minParts || strings.Join(parts, "") != tt.in {
				t.Errorf("parts %q", parts)
			}
			for _, p := range parts {
				if !utf8.ValidString(p) || p == "" {
					t.Errorf("bad part %q", p)
				}
			}
		})
	}
}

func TestCountWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   ", 0},
		{"one", 1},
		{" two  words\n", 2},
		{"a\u00a0b\u3000c", 3},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := countWords(tt.in); got != tt.want {
				t.Errorf("countWords(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}
