package jsonpeek

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func set(key, raw string) Edit { return Edit{Key: key, Value: []byte(raw)} }
func del(key string) Edit      { return Edit{Key: key, Delete: true} }

func TestPatch(t *testing.T) {
	t.Parallel()
	var many []Edit
	var manyWant strings.Builder
	manyWant.WriteString(`{"k0":0`)
	for i := range 10 {
		many = append(many, set(fmt.Sprintf("k%d", i), fmt.Sprint(i*10)))
		if i > 0 {
			fmt.Fprintf(&manyWant, `,"k%d":%d`, i, i*10)
		}
	}
	manyWant.WriteString("}")
	tests := []struct {
		name  string
		body  string
		edits []Edit
		want  string
	}{
		{"no edits", `{ "a" : 1 }`, nil, `{ "a" : 1 }`},
		{"replace", `{"model":"a","x":1}`, []Edit{set("model", `"b"`)}, `{"model":"b","x":1}`},
		{"replace keeps spacing", "{ \"model\" : \"a\" ,\n \"x\": 1 }\n", []Edit{set("model", `"b"`)}, "{ \"model\" : \"b\" ,\n \"x\": 1 }\n"},
		{"replace with longer value", `{"a":1,"b":2}`, []Edit{set("a", `{"n":[1,2,3]}`)}, `{"a":{"n":[1,2,3]},"b":2}`},
		{"replace escaped key keeps its spelling", `{"mo\u0064el":"a"}`, []Edit{set("model", `"m"`)}, `{"mo\u0064el":"m"}`},
		{"add to empty", `{}`, []Edit{set("k", "true")}, `{"k":true}`},
		{"add to empty with spaces", ` { } `, []Edit{set("k", "true")}, ` {"k":true } `},
		{"add to non-empty", `{"a":1}`, []Edit{set("k", "true")}, `{"a":1,"k":true}`},
		{"add keeps closing spacing", "{\"a\":1\n}\n", []Edit{set("k", "true")}, "{\"a\":1,\"k\":true\n}\n"},
		{"add quotes key", `{}`, []Edit{set("a\"b\n", "1")}, `{"a\"b\n":1}`},
		{"add empty value is null", `{}`, []Edit{{Key: "k"}}, `{"k":null}`},
		{"delete first", `{"a":1, "b":2, "c":3}`, []Edit{del("a")}, `{"b":2, "c":3}`},
		{"delete middle", `{"a":1, "b":2, "c":3}`, []Edit{del("b")}, `{"a":1, "c":3}`},
		{"delete last", `{"a":1, "b":2, "c":3}`, []Edit{del("c")}, `{"a":1, "b":2}`},
		{"delete only", `{ "a" : 1 }`, []Edit{del("a")}, `{ }`},
		{"delete missing is a no-op", `{"a":1}`, []Edit{del("z")}, `{"a":1}`},
		{"delete all but last", `{"a":1,"b":2,"c":3}`, []Edit{del("a"), del("b")}, `{"c":3}`},
		{"delete then add", `{"a":1}`, []Edit{del("a"), set("b", "2")}, `{"b":2}`},
		{"duplicates collapsed at first", `{"model":"a","x":1,"model":"c"}`, []Edit{set("model", `"m"`)}, `{"model":"m","x":1}`},
		{"duplicates deleted", `{"a":1,"b":2,"a":3}`, []Edit{del("a")}, `{"b":2}`},
		{"escaped duplicate deleted", `{"a":1,"\u0061":2}`, []Edit{del("a")}, `{}`},
		{"last edit for a key wins: delete", `{"a":1,"b":2}`, []Edit{set("a", "9"), del("a")}, `{"b":2}`},
		{"last edit for a key wins: set", `{"a":1,"b":2}`, []Edit{del("a"), set("a", "9")}, `{"a":9,"b":2}`},
		{"several edits", `{"model":"x","messages":[],"user":"u","stream":true}`,
			[]Edit{set("model", `"up"`), del("user"), set("stream_options", `{"include_usage":true}`)},
			`{"model":"up","messages":[],"stream":true,"stream_options":{"include_usage":true}}`},
		{"more edits than the stack plan", `{"k0":0}`, many, manyWant.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.body)
			o, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			got := o.Patch(tt.edits...)
			if string(got) != tt.want {
				t.Errorf("Patch = %s\nwant    %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Patch output is not valid JSON: %s", got)
			}
			if string(body) != tt.body {
				t.Errorf("Patch modified its input: %s", body)
			}
		})
	}
}

func TestPatchAllocatesOnce(t *testing.T) {
	o, err := Parse([]byte(chatRequest(4 << 10)))
	if err != nil {
		t.Fatal(err)
	}
	edits := []Edit{set("model", `"upstream-model"`), set("stream_options", `{"include_usage":true}`), del("user")}
	allocs := testing.AllocsPerRun(50, func() { o.Patch(edits...) })
	if allocs != 1 {
		t.Errorf("Patch allocates %v times, want 1", allocs)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "gpt-4o", `"gpt-4o"`},
		{"empty", "", `""`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"control characters", "\n\r\t\x00\x1f\b\f", `"\n\r\t\u0000\u001f\u0008\u000c"`},
		{"html kept", "<a>&", `"<a>&"`},
		{"unicode kept", "héllo 😀", `"héllo 😀"`},
		{"line separators escaped", "a\u2028b\u2029", `"a\u2028b\u2029"`},
		{"invalid UTF-8 replaced", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Quote(tt.in)); got != tt.want {
				t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
			}
			checkQuoteDecodes(t, tt.in)
		})
	}
}

// checkQuoteDecodes checks that Quote(s) decodes to what encoding/json
// decodes its own encoding of s to.
func checkQuoteDecodes(t *testing.T, s string) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	var want, got string
	if err := json.Unmarshal(buf.Bytes(), &want); err != nil {
		t.Fatal(err)
	}
	q := Quote(s)
	if err := json.Unmarshal(q, &got); err != nil {
		t.Fatalf("Quote(%q) = %s does not decode: %v", s, q, err)
	}
	if got != want {
		t.Errorf("Quote(%q) decodes to %q, encoding/json round trip gives %q", s, got, want)
	}
}
