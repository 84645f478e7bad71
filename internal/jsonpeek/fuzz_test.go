package jsonpeek

import (
	"bytes"
	"encoding/json"
	"reflect"
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
		for key, val := range want {
			if key == "model" {
				continue
			}
			raw, ok := o.Raw(key)
			if !ok {
				t.Fatalf("Raw(%q) missing in %q", key, in)
			}
			var got any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil || !reflect.DeepEqual(got, val) {
				t.Fatalf("Raw(%q) = %q, want the value %v", key, raw, val)
			}
		}
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
