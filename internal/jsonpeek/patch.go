package jsonpeek

import (
	"unicode/utf8"
)

// Edit is one change for [Object.Patch]: set the member Key to Value, or
// delete it when Delete is true.
type Edit struct {
	// Key is the member's name, unescaped.
	Key string
	// Value is the new value as raw JSON, such as `true`, `{"a":1}` or the
	// result of Quote. Patch copies it verbatim and does not check it: the
	// caller guarantees that it is one valid JSON value. An empty Value is
	// written as null. Ignored when Delete is set.
	Value []byte
	// Delete removes every occurrence of Key.
	Delete bool
}

// stackEdits is how many edits Patch plans without allocating.
const stackEdits = 8

// Patch returns a new body with the edits applied; the Object and its body
// are not modified.
//
// Setting a key that exists writes the new value in place of the first
// occurrence and removes the others; setting a key that does not exist
// appends it as the last member. Deleting a key removes every occurrence;
// deleting a missing key does nothing. If several edits name the same key,
// the last one wins. Members that no edit names are copied byte for byte,
// with the whitespace around them. Patch on the zero Object returns nil.
func (o Object) Patch(edits ...Edit) []byte {
	if o.body == nil {
		return nil
	}
	return o.AppendPatch(make([]byte, 0, o.patchSize(edits)), edits...)
}

// patchSize bounds the length of the patched body.
func (o Object) patchSize(edits []Edit) int {
	size := len(o.body)
	for _, e := range edits {
		if !e.Delete {
			size += len(e.Value) + quotedLenBound(e.Key) + len(",:null")
		}
	}
	return size
}

// AppendPatch is Patch appending to dst, so a caller that patches many
// documents can reuse one buffer.
func (o Object) AppendPatch(dst []byte, edits ...Edit) []byte {
	if o.body == nil {
		return dst
	}
	// first[k] is the member that effective edit k writes to: unset (-1),
	// or superseded (-2) when a later edit names the same key.
	var stack [stackEdits]int
	first := stack[:0]
	if len(edits) > stackEdits {
		first = make([]int, 0, len(edits))
	}
	for k, e := range edits {
		first = append(first, -1)
		for _, later := range edits[k+1:] {
			if later.Key == e.Key {
				first[k] = -2
				break
			}
		}
	}

	b := o.body
	out := append(dst, b[:o.open+1]...)
	written := 0
	for i, m := range o.members {
		value := b[m.valStart:m.valEnd]
		if k := o.editFor(i, edits, first); k >= 0 {
			if edits[k].Delete || first[k] >= 0 {
				continue // deleted, or a duplicate of a member already written
			}
			first[k] = i
			value = rawOrNull(edits[k].Value)
		}
		if written == 0 {
			out = append(out, b[o.open+1:o.members[0].keyStart]...)
		} else {
			// Separator from the original: whitespace, comma, whitespace.
			out = append(out, b[o.members[i-1].valEnd:m.keyStart]...)
		}
		out = append(out, b[m.keyStart:m.valStart]...)
		out = append(out, value...)
		written++
	}
	for k, e := range edits {
		if first[k] != -1 || e.Delete {
			continue
		}
		if written > 0 {
			out = append(out, ',')
		}
		out = AppendString(out, e.Key)
		out = append(out, ':')
		out = append(out, rawOrNull(e.Value)...)
		written++
	}
	tail := o.open + 1
	if n := len(o.members); n > 0 {
		tail = o.members[n-1].valEnd
	}
	return append(out, b[tail:]...)
}

// editFor returns the index of the effective edit naming member i, or -1.
func (o Object) editFor(i int, edits []Edit, first []int) int {
	for k := range edits {
		if first[k] != -2 && o.keyIs(i, edits[k].Key) {
			return k
		}
	}
	return -1
}

func rawOrNull(v []byte) []byte {
	if len(v) == 0 {
		return []byte("null")
	}
	return v
}

// quotedLenBound is an upper bound on len(Quote(s)).
func quotedLenBound(s string) int { return 6*len(s) + 2 }

// Quote returns s encoded as a JSON string, for use as an Edit value. Like
// encoding/json it replaces invalid UTF-8 with U+FFFD and escapes U+2028 and
// U+2029, but it leaves <, > and & as they are.
func Quote(s string) []byte {
	return AppendString(make([]byte, 0, len(s)+2), s)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s encoded as a JSON string to dst. Quotes,
// backslashes and control characters are escaped, and so are U+2028 and
// U+2029, which some JavaScript parsers reject; invalid UTF-8 becomes
// U+FFFD. Unlike encoding/json it does not escape <, > and &.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied unchanged
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
