package jsonpeek

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat(`ab\"c\\`, 200<<10)
	deep := strings.Repeat("[", 500) + strings.Repeat("]", 500)
	tests := []struct {
		name    string
		body    string
		wantErr error // nil, ErrNotObject, or any *SyntaxError
		wantLen int
		want    map[string]string // key -> raw value
	}{
		{name: "empty", body: "", wantErr: &SyntaxError{}},
		{name: "whitespace only", body: " \n\t", wantErr: &SyntaxError{}},
		{name: "array", body: "[]", wantErr: ErrNotObject},
		{name: "null", body: "null", wantErr: ErrNotObject},
		{name: "string", body: ` "{}" `, wantErr: ErrNotObject},
		{name: "number", body: "1", wantErr: ErrNotObject},
		{name: "trailing garbage", body: `{"a":1} x`, wantErr: &SyntaxError{}},
		{name: "two objects", body: `{"a":1}{}`, wantErr: &SyntaxError{}},
		{name: "missing value", body: `{"a":}`, wantErr: &SyntaxError{}},
		{name: "trailing comma", body: `{"a":1,}`, wantErr: &SyntaxError{}},
		{name: "unquoted key", body: `{a:1}`, wantErr: &SyntaxError{}},
		{name: "unterminated", body: `{"a":"`, wantErr: &SyntaxError{}},
		{name: "control char in string", body: "{\"a\":\"\x01\"}", wantErr: &SyntaxError{}},
		{name: "too deep", body: `{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "}", wantErr: &SyntaxError{}},
		{name: "empty object", body: "{}", wantLen: 0},
		{name: "empty object with spaces", body: " {\n} ", wantLen: 0},
		{name: "scalars", body: `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null}`, wantLen: 5,
			want: map[string]string{"s": `"x"`, "n": "-1.5e3", "t": "true", "f": "false", "z": "null"}},
		{name: "nested", body: `{"a":{"b":[1,{"c":"}]"}]},"d":[[],{}],"e":"x"}`, wantLen: 3,
			want: map[string]string{"a": `{"b":[1,{"c":"}]"}]}`, "d": "[[],{}]", "e": `"x"`}},
		{name: "deep nesting", body: `{"a":` + deep + `,"b":1}`, wantLen: 2, want: map[string]string{"a": deep, "b": "1"}},
		{name: "unicode escape in key", body: `{"mo\u0064el":"m"}`, wantLen: 1, want: map[string]string{"model": `"m"`}},
		{name: "escaped quote in key", body: `{"a\"b":1,"c\\":2}`, wantLen: 2, want: map[string]string{`a"b`: "1", `c\`: "2"}},
		{name: "surrogate pair in key", body: `{"\ud83d\ude00":1}`, wantLen: 1, want: map[string]string{"😀": "1"}},
		{name: "invalid UTF-8 in key", body: "{\"k\xff\":1}", wantLen: 1, want: map[string]string{"k\uFFFD": "1"}},
		{name: "backslash before closing quote", body: `{"a":"x\\","b":"\\\"","c":3}`, wantLen: 3,
			want: map[string]string{"a": `"x\\"`, "b": `"\\\""`, "c": "3"}},
		{name: "duplicate keys last wins", body: `{"a":1,"b":2,"a":3}`, wantLen: 3, want: map[string]string{"a": "3", "b": "2"}},
		{name: "whitespace everywhere", body: " \r\n\t{ \"a\" :\n1 ,\r\n \"b\"\t:\t[ 1 , 2 ] , \"c\" : { } } \n", wantLen: 3,
			want: map[string]string{"a": "1", "b": "[ 1 , 2 ]", "c": "{ }"}},
		{name: "huge string", body: `{"big":"` + huge + `","after":true}`, wantLen: 2,
			want: map[string]string{"big": `"` + huge + `"`, "after": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := Parse([]byte(tt.body))
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
			case *SyntaxError:
				se, ok := errors.AsType[*SyntaxError](err)
				if !ok {
					t.Fatalf("Parse error = %v, want a *SyntaxError", err)
				}
				if se.Offset < 0 || se.Offset > int64(len(tt.body)) || se.Msg == "" {
					t.Errorf("SyntaxError = %+v: offset outside the body or no message", se)
				}
				return
			default:
				if !errors.Is(err, want) {
					t.Fatalf("Parse error = %v, want %v", err, want)
				}
				return
			}
			if o.Len() != tt.wantLen {
				t.Errorf("Len = %d, want %d", o.Len(), tt.wantLen)
			}
			for key, want := range tt.want {
				got, ok := o.Raw(key)
				if !ok || string(got) != want {
					t.Errorf("Raw(%q) = %.40q, %v; want %.40q", key, got, ok, want)
				}
				if !o.Has(key) {
					t.Errorf("Has(%q) = false", key)
				}
			}
			if _, ok := o.Raw("missing"); ok || o.Has("missing") {
				t.Error(`Raw/Has("missing") reported a member`)
			}
		})
	}
}

func TestSyntaxErrorOffset(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`{"a":1,"b":}`))
	se, ok := errors.AsType[*SyntaxError](err)
	if !ok {
		t.Fatalf("Parse error = %v, want a *SyntaxError", err)
	}
	// encoding/json reports the offset just past the offending '}' at 11.
	if se.Offset != 12 {
		t.Errorf("Offset = %d, want 12", se.Offset)
	}
	if !strings.Contains(se.Error(), "offset 12") {
		t.Errorf("Error() = %q does not name the offset", se.Error())
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	o, err := Parse([]byte(`{"s":"gpt-x","esc":"a\u00e9\n\"","bad":"x\ud800","n":null,"t":true,"f":false,` +
		`"i":42,"neg":-7,"fl":1.5,"exp":1e3,"big":9223372036854775808,"o":{},"a":[],"q":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		val     any
		ok      bool
		errWant string // FieldError.Want, "" for no error
	}
	fieldErr := func(err error) string {
		if err == nil {
			return ""
		}
		fe, ok := errors.AsType[*FieldError](err)
		if !ok {
			t.Fatalf("error %v is not a *FieldError", err)
		}
		return fe.Want
	}
	str := func(k string) result { v, ok, err := o.String(k); return result{v, ok, fieldErr(err)} }
	boolean := func(k string) result { v, ok, err := o.Bool(k); return result{v, ok, fieldErr(err)} }
	integer := func(k string) result { v, ok, err := o.Int(k); return result{v, ok, fieldErr(err)} }
	tests := []struct {
		name string
		got  result
		want result
	}{
		{"string", str("s"), result{"gpt-x", true, ""}},
		{"string with escapes", str("esc"), result{"aé\n\"", true, ""}},
		{"string with lone surrogate", str("bad"), result{"x\uFFFD", true, ""}},
		{"string absent", str("nope"), result{"", false, ""}},
		{"string null", str("n"), result{"", false, ""}},
		{"string from number", str("i"), result{"", false, "string"}},
		{"string from object", str("o"), result{"", false, "string"}},
		{"bool true", boolean("t"), result{true, true, ""}},
		{"bool false", boolean("f"), result{false, true, ""}},
		{"bool null", boolean("n"), result{false, false, ""}},
		{"bool absent", boolean("nope"), result{false, false, ""}},
		{"bool from string", boolean("q"), result{false, false, "boolean"}},
		{"int", integer("i"), result{int64(42), true, ""}},
		{"int negative", integer("neg"), result{int64(-7), true, ""}},
		{"int null", integer("n"), result{int64(0), false, ""}},
		{"int absent", integer("nope"), result{int64(0), false, ""}},
		{"int from fraction", integer("fl"), result{int64(0), false, "integer"}},
		{"int from exponent", integer("exp"), result{int64(0), false, "integer"}},
		{"int out of range", integer("big"), result{int64(0), false, "integer"}},
		{"int from string", integer("q"), result{int64(0), false, "integer"}},
		{"int from array", integer("a"), result{int64(0), false, "integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	t.Parallel()
	o, err := Parse([]byte(`{"stream":"yes","max_tokens":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = o.Bool("stream")
	if got, want := err.Error(), `jsonpeek: field "stream" must be a boolean, not string`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, _, err = o.Int("max_tokens")
	if got, want := err.Error(), `jsonpeek: field "max_tokens" must be an integer, not array`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestZeroObject(t *testing.T) {
	t.Parallel()
	var o Object
	if o.Len() != 0 || o.Has("a") {
		t.Error("zero Object reports members")
	}
	if _, ok, err := o.String("a"); ok || err != nil {
		t.Errorf("String on zero Object = %v, %v", ok, err)
	}
	if got := o.Patch(Edit{Key: "a", Value: []byte("1")}); got != nil {
		t.Errorf("Patch on zero Object = %q, want nil", got)
	}
}

func TestParseDoesNotAllocatePerMember(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	body := []byte(chatRequest(4 << 10))
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := Parse(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Parse allocates %v times, want at most 1 (the member index)", allocs)
	}
	if !bytes.Contains(body, []byte(`"model"`)) {
		t.Fatal("benchmark body has no model")
	}
}

// TestResetKeepsMembersAndDropsBody checks that a Reset Object holds no
// member and no body, and parses again without allocating.
func TestResetKeepsMembersAndDropsBody(t *testing.T) {
	var o Object
	first := []byte(`{"a":1,"b":"x","c":[true]}`)
	if err := ParseInto(&o, first); err != nil {
		t.Fatal(err)
	}
	o.Reset()
	if o.Len() != 0 || o.body != nil || cap(o.members) < 3 {
		t.Fatalf("after Reset: %d members, body %q, capacity %d; want 0, none, at least 3", o.Len(), o.body, cap(o.members))
	}
	if _, ok := o.Raw("a"); ok {
		t.Fatal("a Reset Object still finds a member")
	}
	second := []byte(`{"x":2,"y":3}`)
	allocs := testing.AllocsPerRun(100, func() {
		o.Reset()
		if err := ParseInto(&o, second); err != nil {
			t.Fatal(err)
		}
	})
	if n, ok, _ := o.Int("y"); !ok || n != 3 {
		t.Fatalf("after Reset and ParseInto: y = %d, %v; want 3", n, ok)
	}
	if !raceEnabled && allocs != 0 {
		t.Fatalf("ParseInto after Reset made %v allocations, want 0", allocs)
	}
}
