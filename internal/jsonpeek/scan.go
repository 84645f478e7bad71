package jsonpeek

// This file holds a validating JSON scanner that accepts exactly the
// documents encoding/json.Valid accepts, so that ParseInto can validate a
// body and index its members in one pass. encoding/json's scanner calls a
// state function per input byte; the stream relay parses one small chunk per
// SSE event, and that per-byte call dominated its profile. The scanner here
// instead runs tight loops over strings, numbers and whitespace.
//
// The grammar is RFC 8259 as encoding/json implements it:
//   - whitespace is only ' ', '\t', '\n' and '\r';
//   - a string may hold any byte except '"', '\\' and controls below 0x20,
//     with no check that it is valid UTF-8 (json.Valid does not check it
//     either; Unmarshal replaces invalid bytes with U+FFFD when decoding);
//   - escapes are \" \\ \/ \b \f \n \r \t and \u followed by four hex
//     digits of either case (lone surrogates are accepted);
//   - numbers match -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?;
//   - arrays and objects nest at most maxDepth deep.

// maxDepth is the deepest nesting of arrays and objects that encoding/json
// accepts: its scanner fails once more than maxNestingDepth (10000) are open.
const maxDepth = 10000

// Byte classes inside a string, for strClass.
const (
	strPlain  = iota // copied as is
	strQuote         // '"', the end of the string
	strEscape        // '\\', the start of an escape
	strCtrl          // below 0x20, not allowed
	strHigh          // 0x80 and above: allowed, but maybe not valid UTF-8
)

// strClass maps every byte to its class inside a string, so the string loop
// is one table load and compare per byte.
var strClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = strCtrl
	}
	t['"'] = strQuote
	t['\\'] = strEscape
	for c := 0x80; c < 0x100; c++ {
		t[c] = strHigh
	}
	return t
}()

// Flags that scanString reports about a string's contents.
const (
	// strHasEscape is set if the string contains a backslash escape.
	strHasEscape = 1 << iota
	// strHasHigh is set if the string contains a byte >= 0x80, which may be
	// part of invalid UTF-8.
	strHasHigh
)

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

// scanString validates the string that starts with the quote at b[i] and
// returns the offset just past its closing quote, and strHasEscape and
// strHasHigh flags describing its contents. On failure ok is false and end
// is where scanning stopped.
func scanString(b []byte, i int) (end int, flags uint8, ok bool) {
	i++ // the opening quote
	for {
		i += plainLen(b[i:])
		if i >= len(b) {
			return i, flags, false
		}
		switch strClass[b[i]] {
		case strQuote:
			return i + 1, flags, true
		case strHigh:
			flags |= strHasHigh
			i++
		case strEscape:
			flags |= strHasEscape
			if i, ok = scanEscape(b, i); !ok {
				return i, flags, false
			}
		default: // strCtrl
			return i, flags, false
		}
	}
}

// plainLen returns the length of the longest prefix of s made of bytes that
// need no attention inside a string. Ranging over s, rather than indexing b,
// lets the compiler drop the bounds checks from this, the hottest loop.
func plainLen(s []byte) int {
	for k, c := range s {
		if strClass[c] != strPlain {
			return k
		}
	}
	return len(s)
}

// scanEscape validates the escape whose backslash is at b[i] and returns the
// offset just past it.
func scanEscape(b []byte, i int) (end int, ok bool) {
	if i+1 >= len(b) {
		return len(b), false
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, true
	case 'u':
		if len(b)-i < 6 {
			return len(b), false
		}
		for _, c := range b[i+2 : i+6] {
			if !isHex(c) {
				return i, false
			}
		}
		return i + 6, true
	}
	return i, false
}

func isHex(c byte) bool {
	// c|0x20 folds 'A'-'F' onto 'a'-'f' and maps no other byte there.
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanDigits returns the offset of the first non-digit at or after i.
func scanDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanNumber validates the number that starts at b[i] and returns the offset
// just past it. What follows the number is checked by the caller: "01" and
// "1x" end the number after the first byte and fail there.
func scanNumber(b []byte, i int) (end int, ok bool) {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return i, false
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++ // no more integer digits: a leading zero stands alone
	case '1' <= c && c <= '9':
		i = scanDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = scanDigits(b, i+1)
	}
	if i < len(b) && b[i]|0x20 == 'e' { // 'e' or 'E'
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = scanDigits(b, i+1)
	}
	return i, true
}

// scanLiteral validates that lit (true, false or null) starts at b[i] and
// returns the offset just past it.
func scanLiteral(b []byte, i int, lit string) (end int, ok bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

// scanKey validates an object key that starts at b[i], the colon after it and
// the whitespace around the colon, and returns the offset of the value.
func scanKey(b []byte, i int) (end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	if i, _, ok = scanString(b, i); !ok {
		return i, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

// scanValue validates the JSON value that starts at b[i], which must not be
// whitespace, and returns the offset just past it; what follows the value is
// left to the caller. depth is the number of arrays and objects already open
// around the value, which counts towards maxDepth. On failure ok is false and
// end is where scanning stopped.
//
// Nested arrays and objects are scanned with an explicit stack rather than by
// recursion, so hostile input 10000 levels deep costs a little heap, not
// a goroutine stack grown to megabytes.
func scanValue(b []byte, i, depth int) (end int, ok bool) {
	// open holds one entry per array or object this call has opened and not
	// yet closed, innermost last: true for an object, false for an array.
	// The first levels fit in a stack-allocated array; only input nested
	// deeper than that makes append allocate.
	open := make([]bool, 0, 32)
	for {
		// i is at the start of a value.
		if i >= len(b) {
			return i, false
		}
		switch c := b[i]; c {
		case '"':
			i, _, ok = scanString(b, i)
		case '{', '[':
			if depth+len(open) >= maxDepth {
				return i, false
			}
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == closer {
				i, ok = i+1, true // empty: the value is complete
				break
			}
			open = append(open, c == '{')
			if c == '{' {
				if i, ok = scanKey(b, i); !ok {
					return i, false
				}
			}
			continue // scan the first element
		case 't':
			i, ok = scanLiteral(b, i, "true")
		case 'f':
			i, ok = scanLiteral(b, i, "false")
		case 'n':
			i, ok = scanLiteral(b, i, "null")
		default:
			i, ok = scanNumber(b, i)
		}
		if !ok {
			return i, false
		}
		// A value is complete: close the containers that end here, then move
		// to the next element of the innermost one still open.
	closing:
		for {
			if len(open) == 0 {
				return i, true
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			inObject := open[len(open)-1]
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
				if inObject {
					if i, ok = scanKey(b, i); !ok {
						return i, false
					}
				}
				break closing
			case '}':
				if !inObject {
					return i, false
				}
			case ']':
				if inObject {
					return i, false
				}
			default:
				return i, false
			}
			open = open[:len(open)-1]
			i++
		}
	}
}

// validValue reports whether b holds exactly one JSON value, with optional
// whitespace around it: what encoding/json.Valid reports, in one fast pass.
func validValue(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return false
	}
	end, ok := scanValue(b, i, 0)
	return ok && skipSpace(b, end) == len(b)
}
