package jsonpeek

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// nest returns a value nested depth levels deep: open repeated depth times
// around inner, closed by closer.
func nest(open, inner, closer string, depth int) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(closer, depth)
}

// validCases are inputs for the validator, each with the answer that
// encoding/json.Valid gives. TestValidMatchesEncodingJSON checks both
// encoding/json and the scanner against valid, so the table also pins down
// the behaviour of encoding/json it relies on (no UTF-8 check, the depth
// limit). FuzzValidMatchesEncodingJSON uses them as seeds.
var validCases = []struct {
	name  string
	in    string
	valid bool
}{
	// Whitespace and framing.
	{"empty", "", false},
	{"only whitespace", " \t\n\r", false},
	{"leading and trailing whitespace", " \t\n\r{}\r\n\t ", true},
	{"form feed is not whitespace", "\f{}", false},
	{"vertical tab is not whitespace", "{}\v", false},
	{"no-break space is not whitespace", "\u00a0{}", false},
	{"byte order mark", "\ufeff{}", false},
	{"NUL before", "\x00{}", false},
	{"NUL after", "{}\x00", false},
	{"trailing garbage", `{"a":1} x`, false},
	{"trailing comment", `{"a":1}//`, false},
	{"two values", `{}{}`, false},
	{"two numbers", `1 2`, false},
	{"extra closer", `{"a":1}}`, false},

	// Literals.
	{"true", "true", true},
	{"false", "false", true},
	{"null", " null ", true},
	{"truncated true", "tru", false},
	{"truncated null", "nul", false},
	{"capitalised", "True", false},
	{"literal with suffix", "truex", false},
	{"literal run-on", "nulll", false},
	{"NaN", "NaN", false},
	{"Infinity", "-Infinity", false},

	// Numbers.
	{"zero", "0", true},
	{"negative zero", "-0", true},
	{"negative zero fraction", "-0.0e-0", true},
	{"integer", "1234567890", true},
	{"fraction", "123.456", true},
	{"exponent", "1e5", true},
	{"exponent capital plus", "1E+2", true},
	{"exponent minus", "-1.5e-300", true},
	{"exponent leading zeros", "1e007", true},
	{"huge exponent", "1e999999", true},
	{"leading zero", "01", false},
	{"negative leading zero", "-01", false},
	{"double zero", "00", false},
	{"trailing dot", "1.", false},
	{"negative trailing dot", "-0.", false},
	{"leading dot", ".5", false},
	{"dot then exponent", "1.e5", false},
	{"bare exponent", "1e", false},
	{"bare capital exponent", "1E", false},
	{"exponent sign only", "1e+", false},
	{"exponent minus only", "1.5e-", false},
	{"lone minus", "-", false},
	{"double minus", "--1", false},
	{"plus sign", "+1", false},
	{"hex", "0x10", false},
	{"number then letter", "1x", false},
	{"number in object then garbage", `{"a":1x}`, false},
	{"number with space inside", "1 .5", false},

	// Strings and escapes.
	{"empty string", `""`, true},
	{"every short escape", `"\" \\ \/ \b \f \n \r \t"`, true},
	{"unicode escapes any case", `"\u00e9\uABCD\uabcd\uAbCd\u0000"`, true},
	{"lone surrogate escape", `"\ud800"`, true},
	{"surrogate pair escape", `"\ud83d\ude00"`, true},
	{"unknown escape", `"\x41"`, false},
	{"escaped single quote", `"\'"`, false},
	{"escape a", `"\a"`, false},
	{"capital U escape", `"\U0041"`, false},
	{"short unicode escape", `"\u12"`, false},
	{"unicode escape bad hex", `"\u12G4"`, false},
	{"unicode escape bad first hex", `"\uZ234"`, false},
	{"unicode escape bad last hex", `"\u123g"`, false},
	{"unicode escape at end", `"\u`, false},
	{"three hex digits at end", `"\u123`, false},
	{"unicode escape then end", `"\u1234`, false},
	{"backslash at end", `"\`, false},
	{"escaped closing quote only", `"\"`, false},
	{"unterminated", `"abc`, false},
	{"lone quote", `"`, false},
	{"NUL in string", "\"a\x00b\"", false},
	{"control 0x1f in string", "\"\x1f\"", false},
	{"raw newline in string", "\"a\nb\"", false},
	{"raw tab in string", "\"a\tb\"", false},
	{"DEL in string", "\"\x7f\"", true},
	{"UTF-8 in string", `"héllo 😀"`, true},
	{"invalid UTF-8 in string", "\"\xff\xfe\"", true},
	{"truncated UTF-8 in string", "\"\xc3\"", true},
	{"encoded surrogate in string", "\"\xed\xa0\x80\"", true},
	{"every high byte in string", "\"" + highBytes() + "\"", true},
	{"invalid UTF-8 in key", "{\"k\xff\":1}", true},
	{"invalid UTF-8 outside string", "[\xff]", false},
	{"single-quoted string", `'a'`, false},

	// Arrays and objects.
	{"empty object", `{}`, true},
	{"empty array", `[]`, true},
	{"spaced empty object", "{ \n }", true},
	{"object", `{"a":1,"b":[true,{"c":null}],"d":"x"}`, true},
	{"array", `[1,"2",[3],{"4":4}]`, true},
	{"nested empties", `[[],{},[{}],{"a":[]}]`, true},
	{"whitespace everywhere", " [ 1 , { \"a\" : [ ] } ] ", true},
	{"duplicate keys", `{"a":1,"a":2}`, true},
	{"trailing comma in object", `{"a":1,}`, false},
	{"trailing comma in array", `[1,]`, false},
	{"leading comma in array", `[,1]`, false},
	{"only comma in object", `{,}`, false},
	{"only comma in array", `[,]`, false},
	{"double comma", `[1,,2]`, false},
	{"missing colon", `{"a" 1}`, false},
	{"missing comma in object", `{"a":1 "b":2}`, false},
	{"missing comma in array", `[1 2]`, false},
	{"missing value", `{"a":}`, false},
	{"key without value", `{"a"}`, false},
	{"number key", `{1:2}`, false},
	{"unquoted key", `{a:1}`, false},
	{"double colon", `{"a"::1}`, false},
	{"colon in array", `[1:2]`, false},
	{"unclosed object", `{`, false},
	{"unclosed array", `[`, false},
	{"unclosed nested", `[[]`, false},
	{"unclosed object after member", `{"a":1`, false},
	{"unclosed object after comma", `{"a":1,`, false},
	{"lone closer", `}`, false},
	{"mismatched array", `[}`, false},
	{"mismatched object", `{]`, false},
	{"mismatched nested", `{"a":[1}]`, false},
	{"object closer after element", `[1}`, false},
	{"array closer after member", `{"a":1]`, false},
	{"object closer in member", `{"a":[1}}`, false},

	// Nesting depth: encoding/json accepts 10000 open arrays and objects.
	{"arrays at the depth limit", nest("[", "", "]", 10000), true},
	{"arrays beyond the depth limit", nest("[", "", "]", 10001), false},
	{"objects at the depth limit", nest(`{"a":`, "1", "}", 10000), true},
	{"objects beyond the depth limit", nest(`{"a":`, "1", "}", 10001), false},
	{"empty object beyond the depth limit", nest("[", "{}", "]", 10000), false},
	{"empty array at the depth limit", nest("[", "[]", "]", 9999), true},
	{"member at the depth limit", `{"a":` + nest("[", "", "]", 9999) + "}", true},
	{"member beyond the depth limit", `{"a":` + nest("[", "", "]", 10000) + "}", false},
	{"mixed beyond the depth limit", nest(`[{"a":`, "", "}]", 5001), false},
	{"unclosed deep arrays", strings.Repeat("[", 20000), false},
}

// highBytes returns every byte from 0x80 to 0xff.
func highBytes() string {
	var b []byte
	for c := 0x80; c < 0x100; c++ {
		b = append(b, byte(c))
	}
	return string(b)
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range validCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Clipped, so that reading past the end panics instead of
			// reading spare capacity.
			in := slices.Clip([]byte(tt.in))
			if got := json.Valid(in); got != tt.valid {
				t.Fatalf("json.Valid(%.60q) = %v, but the table says %v", in, got, tt.valid)
			}
			if got := validValue(in); got != tt.valid {
				t.Errorf("validValue(%.60q) = %v, want %v", in, got, tt.valid)
			}
			checkParseMatchesEncodingJSON(t, in)
		})
	}
}

// TestScanValueStops checks the end offsets that ParseInto relies on to
// record member spans: scanValue stops right after the value.
func TestScanValueStops(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int // end offset, -1 for failure
	}{
		{`1,`, 1},
		{`-0.5e+3}`, 7},
		{`0 `, 1},
		{`01`, 1}, // the caller rejects the 1
		{`"a\"b" x`, 6},
		{`true]`, 4},
		{`[1, [2]] ,`, 8},
		{`{"a" : {} }x`, 11},
		{`[1,]`, -1},
		{`{"a":1`, -1},
	} {
		end, ok := scanValue([]byte(tt.in), 0, 0)
		if !ok {
			end = -1
		}
		if end != tt.want {
			t.Errorf("scanValue(%q) = %d, want %d", tt.in, end, tt.want)
		}
	}
}

func TestScanStringFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want uint8
	}{
		{`"plain ascii"`, 0},
		{`"a\nb"`, strHasEscape},
		{`"\u00e9"`, strHasEscape},
		{`"é"`, strHasHigh},
		{"\"\xff\"", strHasHigh},
		{`"é\t"`, strHasEscape | strHasHigh},
	} {
		end, flags, ok := scanString([]byte(tt.in), 0)
		if !ok || end != len(tt.in) || flags != tt.want {
			t.Errorf("scanString(%q) = %d, %b, %v; want %d, %b, true", tt.in, end, flags, ok, len(tt.in), tt.want)
		}
	}
}

// TestParseIntoStreamChunkDoesNotAllocate checks the relay's hot path:
// ParseInto with a reused Object allocates nothing.
func TestParseIntoStreamChunkDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	for _, c := range streamChunks {
		body := []byte(c.body)
		var o Object
		allocs := testing.AllocsPerRun(100, func() {
			if err := ParseInto(&o, body); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: ParseInto allocates %v times, want 0", c.name, allocs)
		}
		checkMembers(t, body, o)
	}
}

// checkParseMatchesEncodingJSON checks ParseInto on in against encoding/json:
// a *SyntaxError exactly when json.Valid rejects in, ErrNotObject for other
// valid values, and for objects the members encoding/json decodes. It parses
// into an Object that already holds members, as the relay reuses one.
func checkParseMatchesEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	var o Object
	if err := ParseInto(&o, []byte(`{"stale":1,"x":[2]}`)); err != nil {
		t.Fatal(err)
	}
	err := ParseInto(&o, in)
	valid := json.Valid(in)
	trimmed := bytes.TrimLeft(in, " \t\n\r")
	switch {
	case !valid:
		se, ok := errors.AsType[*SyntaxError](err)
		if !ok {
			t.Fatalf("ParseInto(%.60q) error = %v, want a *SyntaxError", in, err)
		}
		if se.Offset < 0 || se.Offset > int64(len(in)) || se.Msg == "" {
			t.Errorf("ParseInto(%.60q): SyntaxError %+v has an offset outside the body or no message", in, se)
		}
	case trimmed[0] != '{':
		if err != ErrNotObject {
			t.Fatalf("ParseInto(%.60q) error = %v, want ErrNotObject", in, err)
		}
	case err != nil:
		t.Fatalf("ParseInto(%.60q): %v", in, err)
	}
	if err != nil {
		if o.Len() != 0 || o.body != nil {
			t.Errorf("ParseInto(%.60q) failed but left %d members", in, o.Len())
		}
		return
	}
	checkMembers(t, in, o)
}

// checkMembers checks that o, parsed from the valid object in, indexes the
// members that encoding/json reads: the same keys and raw values in the same
// order, duplicates included, and Raw returning the last occurrence, as
// decoding into a map[string]json.RawMessage does.
func checkMembers(t *testing.T, in []byte, o Object) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(in))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%.60q: first token %v, %v; want {", in, tok, err)
	}
	n := 0
	for ; dec.More(); n++ {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%.60q: reading key %d: %v", in, n, err)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			t.Fatalf("%.60q: reading value %d: %v", in, n, err)
		}
		if n >= o.Len() {
			continue // reported below
		}
		m := o.members[n]
		if key := tok.(string); !o.keyIs(n, key) {
			t.Errorf("%.60q: member %d is key %q (raw %q), encoding/json reads %q",
				in, n, m.key, in[m.keyStart:m.keyEnd], key)
		}
		if got := in[m.valStart:m.valEnd]; !bytes.Equal(got, val) {
			t.Errorf("%.60q: member %d has value %.60q, encoding/json reads %.60q", in, n, got, val)
		}
	}
	if n != o.Len() {
		t.Errorf("%.60q: Len = %d, encoding/json reads %d members", in, o.Len(), n)
	}

	var want map[string]json.RawMessage
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatalf("%.60q: %v", in, err)
	}
	for key, val := range want {
		if got, ok := o.Raw(key); !ok || !bytes.Equal(got, val) {
			t.Errorf("%.60q: Raw(%q) = %.60q, %v; want %.60q", in, key, got, ok, val)
		}
	}
}
