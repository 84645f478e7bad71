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
//
// It validates the body and indexes the members in a single pass; see
// scan.go for the validator, which accepts exactly what encoding/json.Valid
// accepts.
func ParseInto(o *Object, body []byte) error {
	members := o.members[:0]
	*o = Object{}
	i := skipSpace(body, 0)
	if i >= len(body) {
		return syntaxError(body)
	}
	if body[i] != '{' {
		if validValue(body) {
			return ErrNotObject
		}
		return syntaxError(body)
	}
	open := i
	if cap(members) == 0 {
		members = make([]member, 0, countHint(body))
	}
	decode := false // whether some key needs decodeString
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			if i >= len(body) || body[i] != '"' {
				return syntaxError(body)
			}
			m := member{keyStart: i}
			end, flags, ok := scanString(body, i)
			if !ok {
				return syntaxError(body)
			}
			m.keyEnd = end
			// Raw key bytes are the key itself unless they hold an escape
			// or invalid UTF-8; plain ASCII keys skip the UTF-8 check.
			if flags&strHasEscape != 0 || flags&strHasHigh != 0 && !utf8.Valid(body[m.keyStart+1:m.keyEnd-1]) {
				m.escaped = true // key is filled in once the body is known valid
				decode = true
			}
			i = skipSpace(body, end)
			if i >= len(body) || body[i] != ':' {
				return syntaxError(body)
			}
			m.valStart = skipSpace(body, i+1)
			if m.valEnd, ok = scanValue(body, m.valStart, 1); !ok {
				return syntaxError(body)
			}
			members = append(members, m)
			i = skipSpace(body, m.valEnd)
			if i < len(body) && body[i] == ',' {
				i = skipSpace(body, i+1)
				continue
			}
			if i < len(body) && body[i] == '}' {
				i++
				break
			}
			return syntaxError(body)
		}
	}
	if skipSpace(body, i) != len(body) {
		return syntaxError(body)
	}
	// Keys are decoded only now, so that an invalid body fails with a
	// SyntaxError whatever its keys hold, as it did when validation was a
	// separate pass.
	if decode {
		for k := range members {
			m := &members[k]
			if !m.escaped {
				continue
			}
			key, err := decodeString(body[m.keyStart:m.keyEnd])
			if err != nil {
				return fmt.Errorf("jsonpeek: decoding key at offset %d: %w", m.keyStart, err)
			}
			m.key = key
		}
	}
	o.body, o.open, o.members = body, open, members
	return nil
}

// Reset empties o, dropping its reference to the parsed body, but keeps
// its member list for the next ParseInto: a pooled Object parses without
// allocating.
func (o *Object) Reset() {
	*o = Object{members: o.members[:0]}
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
// allocated once for typical bodies: a short one (a small request, an
// answer, a stream chunk) has a handful, a long chat request up to a dozen
// or so besides its messages.
func countHint(body []byte) int {
	if len(body) < 1<<10 {
		return min(8, len(body)/16+1)
	}
	return 16
}
