// Package jsonpeek reads and rewrites a few top-level members of a JSON
// object without decoding and re-encoding the whole document.
//
// The gateway uses it on request bodies: [Parse] validates the body and
// indexes its top-level members by byte span, the accessors ([Object.String],
// [Object.Bool], [Object.Int], [Object.Raw]) read single fields, and
// [Object.Patch] builds a new body in which the other members are copied byte
// for byte. Nested objects are handled by parsing a member's raw value again.
//
// Duplicate keys follow encoding/json: a read sees the last occurrence, and a
// patch that sets or deletes a key removes every occurrence, so no upstream
// can be shown a different value from the one tollgate read.
package jsonpeek

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrNotObject is returned by [Parse] for valid JSON whose top-level value is
// not an object.
var ErrNotObject = errors.New("jsonpeek: JSON value is not an object")

// SyntaxError is returned by [Parse] for input that is not valid JSON.
type SyntaxError struct {
	// Offset is the byte offset at which the error was detected, as
	// encoding/json reports it.
	Offset int64
	// Msg describes the error.
	Msg string
}

// Error implements the error interface.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonpeek: invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// member is the byte spans of one top-level member of an Object.
type member struct {
	keyStart, keyEnd int // the key, quotes included
	valStart, valEnd int // the raw value
	// escaped is set if the raw key bytes are not the key itself (escapes or
	// invalid UTF-8); key then holds the decoded key.
	escaped bool
	key     string
}

// Object indexes the top-level members of one JSON object without decoding
// their values. It aliases the body given to Parse, which must not be
// modified while the Object is in use. The zero value is an Object with no
// members and no body. An Object is safe for concurrent reads.
type Object struct {
	body    []byte
	open    int // offset of the object's opening brace
	members []member
}

// Parse validates body as one JSON document whose top-level value is an
// object, and indexes the object's members. It returns a *SyntaxError if
// body is not valid JSON and ErrNotObject if its value is not an object.
func Parse(body []byte) (Object, error) {
	var o Object
	err := ParseInto(&o, body)
	return o, err
}

// ParseInto is Parse into an existing Object, reusing its member list, so
// that parsing many small documents in a row (stream chunks) allocates
// nothing once the list has grown. On error o is left empty.
func ParseInto(o *Object, body []byte) error {
	members := o.members[:0]
	*o = Object{}
	if !json.Valid(body) {
		return syntaxError(body)
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return ErrNotObject
	}
	o.body, o.open = body, i
	if cap(members) == 0 {
		members = make([]member, 0, countHint(body))
	}
	o.members = members
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		m := member{keyStart: i}
		i = skipString(body, i)
		m.keyEnd = i
		if raw := body[m.keyStart+1 : m.keyEnd-1]; bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
			key, err := decodeString(body[m.keyStart:m.keyEnd])
			if err != nil {
				*o = Object{}
				return fmt.Errorf("jsonpeek: decoding key at offset %d: %w", m.keyStart, err)
			}
			m.escaped, m.key = true, key
		}
		i = skipSpace(body, i) + 1 // the colon
		m.valStart = skipSpace(body, i)
		m.valEnd = skipValue(body, m.valStart)
		o.members = append(o.members, m)
		i = skipSpace(body, m.valEnd)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return nil
}

// syntaxError describes why body is not valid JSON; it is only called on the
// error path, where a second pass over the body costs nothing that matters.
func syntaxError(body []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	}
	msg := "invalid JSON"
	if err != nil {
		msg = err.Error()
	}
	return &SyntaxError{Offset: int64(len(body)), Msg: msg}
}

// decodeString decodes a raw JSON string exactly as encoding/json does, so
// escapes and invalid UTF-8 come out the same as in a decoded map key.
func decodeString(raw []byte) (string, error) {
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// countHint guesses the number of members so that the members slice is
// allocated once for typical request bodies.
func countHint(body []byte) int {
	return min(16, len(body)/8+1)
}

// The scanning helpers below run only on input that json.Valid accepted, so
// they do not check the grammar again.

// skipSpace returns the offset of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the offset just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	i++
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b) // unreachable for valid input
		}
		i += q
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for j := i - 1; b[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

// skipValue returns the offset just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false or null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}
