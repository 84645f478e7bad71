package idempotency_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/idempotency"
	"github.com/tollgate/tollgate/internal/idempotency/idempotencytest"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"uuid", "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{"single char", "a", true},
		{"inner spaces and punctuation", "order 42 / retry #1 ~!", true},
		{"max length", strings.Repeat("k", idempotency.MaxKeyLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("k", idempotency.MaxKeyLen+1), false},
		{"leading space", " abc", false},
		{"trailing space", "abc ", false},
		{"only a space", " ", false},
		{"tab", "a\tb", false},
		{"newline", "abc\n", false},
		{"delete", "abc\x7f", false},
		{"non-ascii", "clé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idempotency.ValidKey(tt.key); got != tt.want {
				t.Errorf("ValidKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"a", " a", "a ", "abc-123", "\x00", "é", strings.Repeat("x", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if !idempotency.ValidKey(k) {
			return
		}
		if len(k) < 1 || len(k) > idempotency.MaxKeyLen {
			t.Fatalf("ValidKey accepted length %d", len(k))
		}
		if strings.TrimSpace(k) != k {
			t.Fatalf("ValidKey accepted %q with surrounding space", k)
		}
		for _, r := range k {
			if r < ' ' || r > '~' {
				t.Fatalf("ValidKey accepted %q with rune %U", k, r)
			}
		}
	})
}

func TestFingerprint(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idempotency.Fingerprint([]byte(tt.body)); got != tt.want {
				t.Errorf("Fingerprint(%q) = %s, want %s", tt.body, got, tt.want)
			}
		})
	}
}

func TestShouldFinish(t *testing.T) {
	tests := []struct {
		status int
		want   bool
	}{
		{200, true}, {201, true}, {400, true}, {401, true}, {404, true}, {409, true}, {422, true},
		{408, false}, {425, false}, {429, false}, {499, false},
		{500, false}, {502, false}, {503, false}, {504, false},
		{0, false}, {100, false}, {600, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			if got := idempotency.ShouldFinish(tt.status); got != tt.want {
				t.Errorf("ShouldFinish(%d) = %v, want %v", tt.status, got, tt.want)
			}
		})
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    idempotency.Result
	}{
		{"body", idempotency.Result{
			Status: 200, Header: map[string]string{"Content-Type": "application/json"},
			Body: []byte(`{"id":"x"}`), Fingerprint: idempotency.Fingerprint([]byte("req")),
		}},
		{"stream with binary-safe data", idempotency.Result{
			Status: 200, Header: map[string]string{"Content-Type": "text/event-stream", "X-Tollgate-Channel": "sim"},
			Events: [][]byte{[]byte(`{"a":"\u00e9"}`), {0xff, 0x00}, []byte("[DONE]")}, Fingerprint: "f",
		}},
		{"too large marker", idempotency.Result{Status: 200, Fingerprint: "f", TooLarge: true}},
		{"zero", idempotency.Result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.r)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var got idempotency.Result
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", data, err)
			}
			if d := idempotencytest.DiffResult(got, tt.r); d != "" {
				t.Errorf("round trip through %s: %s", data, d)
			}
		})
	}
}

func TestResultClone(t *testing.T) {
	tests := []struct {
		name string
		r    idempotency.Result
	}{
		{"body and events", idempotency.Result{
			Status: 201, Header: map[string]string{"A": "b"}, Body: []byte("body"),
			Events: [][]byte{[]byte("one"), {}, []byte("three")}, Fingerprint: "f", TooLarge: true,
		}},
		{"nil fields stay nil", idempotency.Result{Status: 204}},
		{"empty body stays non-nil", idempotency.Result{Body: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.r.Clone()
			if d := idempotencytest.DiffResult(c, tt.r); d != "" {
				t.Fatalf("Clone differs: %s", d)
			}
			if (c.Body == nil) != (tt.r.Body == nil) || (c.Events == nil) != (tt.r.Events == nil) || (c.Header == nil) != (tt.r.Header == nil) {
				t.Errorf("Clone changed nil-ness: got %#v from %#v", c, tt.r)
			}
			orig := tt.r.Clone()
			for i := range c.Body {
				c.Body[i] = '#'
			}
			for _, e := range c.Events {
				for i := range e {
					e[i] = '#'
				}
			}
			if c.Header != nil {
				c.Header["A"] = "#"
			}
			if d := idempotencytest.DiffResult(tt.r, orig); d != "" {
				t.Errorf("changing the clone changed the original: %s", d)
			}
			if fresh := tt.r.Clone(); len(fresh.Events) > 1 {
				fresh.Events[0] = append(fresh.Events[0], "xxxxxxxx"...)
				if !slices.EqualFunc(fresh.Events[1:], tt.r.Events[1:], bytes.Equal) {
					t.Errorf("appending to one cloned event overwrote the next: %q", fresh.Events)
				}
			}
		})
	}
}

func TestResultSizeAndIsStream(t *testing.T) {
	tests := []struct {
		name   string
		r      idempotency.Result
		size   int
		stream bool
	}{
		{"zero", idempotency.Result{}, 0, false},
		{"body and header", idempotency.Result{Header: map[string]string{"ab": "cde"}, Body: []byte("12345")}, 10, false},
		{"events", idempotency.Result{Events: [][]byte{[]byte("12"), []byte("[DONE]")}, Fingerprint: "not counted"}, 8, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Size(); got != tt.size {
				t.Errorf("Size = %d, want %d", got, tt.size)
			}
			if got := tt.r.IsStream(); got != tt.stream {
				t.Errorf("IsStream = %v, want %v", got, tt.stream)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	tests := []struct {
		o    idempotency.Outcome
		want string
	}{
		{idempotency.Started, "started"},
		{idempotency.InProgress, "in_progress"},
		{idempotency.Replay, "replay"},
		{idempotency.Mismatch, "mismatch"},
		{idempotency.TooLarge, "too_large"},
		{0, "Outcome(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.o.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}
