package openai

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestParseInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"string", `"hello world"`, []string{"hello world"}, false},
		{"strings", `["a","b c"]`, []string{"a", "b c"}, false},
		{"token ids", `[1, 22, 333]`, []string{"1 22 333"}, false},
		{"token id arrays", `[[1,2],[3]]`, []string{"1 2", "3"}, false},
		{"empty array", `[]`, nil, true},
		{"absent", ``, nil, true},
		{"object", `{"a":1}`, nil, true},
		{"mixed", `["a",1]`, nil, true},
		{"number", `7`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseInputs(json.RawMessage(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidInput) {
					t.Errorf("err = %v, want ErrInvalidInput", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseInputs = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestBase64Float32(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []float32
		want string
	}{
		{"empty", nil, ""},
		{"one", []float32{1}, "AACAPw=="},
		{"several", []float32{0.5, -2, 3.25}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := EncodeBase64Float32(tt.in)
			if tt.want != "" && s != tt.want {
				t.Errorf("EncodeBase64Float32 = %q, want %q", s, tt.want)
			}
			got, err := DecodeBase64Float32(s)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.in) || (len(got) > 0 && !reflect.DeepEqual(got, tt.in)) {
				t.Errorf("decoded %v, want %v", got, tt.in)
			}
		})
	}
	if _, err := DecodeBase64Float32("AAA="); err == nil {
		t.Error("DecodeBase64Float32 accepted 2 bytes")
	}
}

func TestEmbeddingFloats(t *testing.T) {
	t.Parallel()
	want := []float32{0.25, -1, float32(math.Pi)}
	tests := []struct {
		name string
		raw  json.RawMessage
	}{
		{"array", AppendFloat32Array(nil, want)},
		{"base64", StringContent(EncodeBase64Float32(want))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Embedding{Embedding: tt.raw}.Floats()
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("Floats() = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestAppendFloat32ArrayNonFinite(t *testing.T) {
	t.Parallel()
	got := string(AppendFloat32Array(nil, []float32{float32(math.NaN()), float32(math.Inf(1)), 1.5}))
	if want := "[0,0,1.5]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
