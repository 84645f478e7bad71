package jsonpeek

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError reports a member whose value has the wrong JSON type.
type FieldError struct {
	// Field is the member's key.
	Field string
	// Want is the JSON type the caller asked for: "string", "boolean" or
	// "integer".
	Want string
	// Got is the JSON type found: "string", "number", "boolean", "object"
	// or "array"; for an out-of-range or fractional number asked for as an
	// integer it is "number".
	Got string
}

// Error implements the error interface.
func (e *FieldError) Error() string {
	return fmt.Sprintf("jsonpeek: field %q must be %s %s, not %s", e.Field, article(e.Want), e.Want, e.Got)
}

func article(word string) string {
	if word != "" && strings.IndexByte("aeiou", word[0]) >= 0 {
		return "an"
	}
	return "a"
}

// kind names the JSON type of a raw value.
func kind(raw []byte) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Len returns the number of members, duplicates included.
func (o Object) Len() int { return len(o.members) }

// Has reports whether the object has a member named key, whatever its value
// (null included).
func (o Object) Has(key string) bool {
	_, ok := o.find(key)
	return ok
}

// Raw returns the raw bytes of the value of the member named key, such as
// `"gpt-x"`, `true`, `null` or `{...}`, and whether the member exists. If
// the key occurs more than once, the last occurrence wins, as with
// encoding/json. The bytes alias the parsed body and must not be modified.
func (o Object) Raw(key string) ([]byte, bool) {
	i, ok := o.find(key)
	if !ok {
		return nil, false
	}
	m := o.members[i]
	return o.body[m.valStart:m.valEnd:m.valEnd], true
}

// String returns the value of the member named key as a string. ok is false
// if the member is absent or null. err is a *FieldError if the value is
// another JSON type.
func (o Object) String(key string) (val string, ok bool, err error) {
	raw, ok := o.present(key)
	if !ok {
		return "", false, nil
	}
	if raw[0] != '"' {
		return "", false, &FieldError{Field: key, Want: "string", Got: kind(raw)}
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true, nil
	}
	// Escapes or invalid UTF-8: decode as encoding/json does.
	val, err = decodeString(raw)
	if err != nil {
		return "", false, fmt.Errorf("jsonpeek: decoding field %q: %w", key, err)
	}
	return val, true, nil
}

// Bool returns the value of the member named key as a boolean. ok is false
// if the member is absent or null. err is a *FieldError if the value is
// another JSON type.
func (o Object) Bool(key string) (val bool, ok bool, err error) {
	raw, ok := o.present(key)
	if !ok {
		return false, false, nil
	}
	switch string(raw) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, &FieldError{Field: key, Want: "boolean", Got: kind(raw)}
}

// Int returns the value of the member named key as an integer. ok is false if
// the member is absent or null. err is a *FieldError if the value is not a
// JSON number written as an integer (without fraction or exponent) that fits
// in an int64.
func (o Object) Int(key string) (val int64, ok bool, err error) {
	raw, ok := o.present(key)
	if !ok {
		return 0, false, nil
	}
	if kind(raw) == "number" && bytes.IndexAny(raw, ".eE") < 0 {
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return n, true, nil
		}
	}
	return 0, false, &FieldError{Field: key, Want: "integer", Got: kind(raw)}
}

// present returns the raw value of key, with ok false if it is absent or null.
func (o Object) present(key string) ([]byte, bool) {
	raw, ok := o.Raw(key)
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// find returns the index of the last member named key.
func (o Object) find(key string) (int, bool) {
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.keyIs(i, key) {
			return i, true
		}
	}
	return 0, false
}

// keyIs reports whether member i is named key.
func (o Object) keyIs(i int, key string) bool {
	m := &o.members[i]
	if m.escaped {
		return m.key == key
	}
	return string(o.body[m.keyStart+1:m.keyEnd-1]) == key
}
