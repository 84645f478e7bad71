package jsonpeek

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// decodeMap decodes a JSON object, keeping numbers as written so that
// comparisons do not depend on float conversion.
func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return m
}

func FuzzParsePatch(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"model":"gpt-x","stream":true}`,
		`{"model":"a","x-deleted":1,"model":"b","x-deleted":{"n":[1]}}`,
		`{"mo\u0064el":1,"x\u002ddeleted":2}`,
		" { \"a\" : [ 1 , { \"b\" : \"}\\\"\" } ] } ",
		`[1]`,
		`{"a":1`,
		`{"a":"\ud800","\ufffd":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := Parse(in)
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("Parse accepted invalid JSON %q", in)
		}
		out := o.Patch(Edit{Key: "model", Value: Quote("m")}, Edit{Key: "x-deleted", Delete: true})
		if !json.Valid(out) {
			t.Fatalf("Patch(%q) = %q, not valid JSON", in, out)
		}
		want := decodeMap(t, in)
		want["model"] = "m"
		delete(want, "x-deleted")
		if got := decodeMap(t, out); !reflect.DeepEqual(got, want) {
			t.Fatalf("Patch(%q) = %q\ndecodes to %v\nwant       %v", in, out, got, want)
		}
		// The index itself, key by key, against encoding/json.
		checkMembers(t, in, o)
	})
}

// FuzzValidMatchesEncodingJSON checks the validating scanner against
// encoding/json.Valid on any input, and ParseInto against encoding/json:
// the same inputs rejected, ErrNotObject for other values, and for objects
// the members encoding/json decodes (see checkParseMatchesEncodingJSON).
func FuzzValidMatchesEncodingJSON(f *testing.F) {
	for _, tt := range validCases {
		f.Add([]byte(tt.in))
	}
	for _, c := range streamChunks {
		f.Add([]byte(c.body))
	}
	f.Add([]byte(chatRequest(1 << 10)))
	f.Fuzz(func(t *testing.T, in []byte) {
		in = slices.Clip(in) // reading past the end must panic
		want := json.Valid(in)
		if got := validValue(in); got != want {
			t.Fatalf("validValue(%q) = %v, json.Valid says %v", in, got, want)
		}
		checkParseMatchesEncodingJSON(t, in)
	})
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "a\"\\\n\x00", "\u2028<&>", "\xff\xc3("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoteDecodes(t, s)
	})
}
