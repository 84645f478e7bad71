package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "sk-live-very-secret-value"
	s := Secret(value)
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "key", s)
	js, err := json.Marshal(struct{ K Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := s.MarshalText()
	tests := []struct {
		name string
		got  string
	}{
		{"Sprint", fmt.Sprint(s)},
		{"v", fmt.Sprintf("%v", s)},
		{"+v struct", fmt.Sprintf("%+v", struct{ K Secret }{s})},
		{"#v", fmt.Sprintf("%#v", s)},
		{"s", fmt.Sprintf("%s", s)},
		{"q", fmt.Sprintf("%q", s)},
		{"x", fmt.Sprintf("%x", s)},
		{"json", string(js)},
		{"text", string(text)},
		{"slog", logBuf.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, value) || strings.Contains(tt.got, "secret") {
				t.Fatalf("secret leaked: %s", tt.got)
			}
			if !strings.Contains(tt.got, "redacted") {
				t.Fatalf("placeholder missing: %s", tt.got)
			}
		})
	}
	if s.Reveal() != value {
		t.Fatalf("Reveal = %q", s.Reveal())
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ prefix, value, want string }{
		{"sk-", "sk-abcdef123456", "sk-...3456"},
		{"sk-tg-", "short", "sk-tg-..."},
		{"", "", "..."},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if got := Mask(tt.prefix, tt.value); got != tt.want {
				t.Fatalf("Mask(%q,%q) = %q, want %q", tt.prefix, tt.value, got, tt.want)
			}
		})
	}
}
