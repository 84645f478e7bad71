// Package redact keeps secrets out of logs, errors and output: a Secret
// prints as "[redacted]" through every formatting path (fmt, JSON, YAML,
// slog), and the mask helpers show just enough of a value to recognise it.
package redact

import (
	"fmt"
	"log/slog"
)

// Placeholder is what a Secret prints as.
const Placeholder = "[redacted]"

// Secret is a string that never prints its value. Use Reveal where the
// value is really needed, such as an outgoing Authorization header.
// The zero value is the empty secret.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer with the placeholder.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Placeholder
}

// GoString implements fmt.GoStringer so %#v does not leak the value.
func (s Secret) GoString() string { return fmt.Sprintf("redact.Secret(%q)", s.String()) }

// Format implements fmt.Formatter so every verb prints the placeholder.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON implements json.Marshaler with the placeholder.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler with the placeholder, which
// also covers YAML encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer with the placeholder.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Mask shows the last four characters of a secret after a prefix, e.g.
// Mask("sk-", "sk-abcdef123456") is "sk-...3456". Values of eight
// characters or fewer are fully hidden.
func Mask(prefix, value string) string {
	if len(value) <= 8 {
		return prefix + "..."
	}
	return prefix + "..." + value[len(value)-4:]
}
