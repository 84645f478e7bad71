package idempotency_test

import (
	"bytes"
	"testing"

	"github.com/tollgate/tollgate/internal/idempotency"
	"github.com/tollgate/tollgate/internal/idempotency/idempotencytest"
)

func TestRecorder(t *testing.T) {
	header := map[string]string{"Content-Type": "text/event-stream"} // 29 bytes
	type call struct {
		event []byte // AddEvent unless body is set
		body  []byte // SetBody when non-nil
	}
	ev := func(s string) call { return call{event: []byte(s)} }
	body := func(s string) call { return call{body: []byte(s)} }
	tests := []struct {
		name     string
		limit    int
		calls    []call
		want     idempotency.Result // Status and Header are filled in
		wantFits bool
		overflow bool
	}{
		{"stream fits", 64, []call{ev("abc"), ev(""), ev("[DONE]")},
			idempotency.Result{Events: [][]byte{[]byte("abc"), {}, []byte("[DONE]")}}, true, false},
		{"body fits", 64, []call{body("hello")}, idempotency.Result{Body: []byte("hello")}, true, false},
		{"exactly at limit fits", 29 + 10, []call{ev("12345"), ev("67890")},
			idempotency.Result{Events: [][]byte{[]byte("12345"), []byte("67890")}}, true, false},
		{"header pushes it over", 29 + 9, []call{ev("12345"), ev("6789"), ev("0")},
			idempotency.Result{TooLarge: true}, false, false},
		{"events over limit", 20, []call{ev("0123456789"), ev("0123456789"), ev("x")},
			idempotency.Result{TooLarge: true}, false, true},
		{"replaced body is not counted twice", 29 + 6, []call{body("abcdef"), body("ghijkl")},
			idempotency.Result{Body: []byte("ghijkl")}, true, false},
		{"body over limit", 10, []call{body("abcdefghijk")}, idempotency.Result{TooLarge: true}, false, true},
		{"overflow is final", 10, []call{ev("0123456789a"), body("")}, idempotency.Result{TooLarge: true}, false, true},
		{"zero limit means default", 0, []call{body(string(make([]byte, idempotency.DefaultMaxResultBytes-29)))},
			idempotency.Result{Body: make([]byte, idempotency.DefaultMaxResultBytes-29)}, true, false},
		{"default limit is enforced", -1, []call{body(string(make([]byte, idempotency.DefaultMaxResultBytes+1)))},
			idempotency.Result{TooLarge: true}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := idempotency.NewRecorder(tt.limit)
			var given [][]byte
			for _, c := range tt.calls {
				if c.body != nil {
					r.SetBody(c.body)
					given = append(given, c.body)
				} else {
					r.AddEvent(c.event)
					given = append(given, c.event)
				}
			}
			// The Recorder keeps copies: scribbling on what it was given
			// must not change the Result.
			for _, b := range given {
				for i := range b {
					b[i] = '#'
				}
			}
			if got := r.Overflowed(); got != tt.overflow {
				t.Errorf("Overflowed = %v, want %v", got, tt.overflow)
			}
			h := map[string]string{"Content-Type": "text/event-stream"}
			got, fits := r.Result(201, h)
			h["Content-Type"] = "#"
			want := tt.want
			want.Status = 201
			want.Header = header
			if fits != tt.wantFits {
				t.Errorf("fits = %v, want %v", fits, tt.wantFits)
			}
			if d := idempotencytest.DiffResult(got, want); d != "" {
				t.Errorf("Result: %s", d)
			}
			limit := tt.limit
			if limit <= 0 {
				limit = idempotency.DefaultMaxResultBytes
			}
			if got.Size() > limit && fits {
				t.Errorf("Result of %d bytes fits a limit of %d", got.Size(), tt.limit)
			}
		})
	}
}

func TestRecorderFinishesIntoStore(t *testing.T) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxResultBytes: 64})
	ctx := t.Context()
	fp := idempotency.Fingerprint([]byte("req"))
	if o, _, err := m.Begin(ctx, "s", "k", fp); err != nil || o != idempotency.Started {
		t.Fatalf("Begin = %v, %v", o, err)
	}
	rec := idempotency.NewRecorder(64)
	buf := []byte("chunk-1")
	rec.AddEvent(buf)
	copy(buf, "chunk-2")
	rec.AddEvent(buf)
	rec.AddEvent([]byte("[DONE]"))
	res, fits := rec.Result(200, map[string]string{"Content-Type": "text/event-stream"})
	if !fits {
		t.Fatalf("Result does not fit")
	}
	if err := m.Finish(ctx, "s", "k", res); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	o, got, err := m.Begin(ctx, "s", "k", fp)
	if err != nil || o != idempotency.Replay {
		t.Fatalf("Begin = %v, %v; want replay", o, err)
	}
	want := [][]byte{[]byte("chunk-1"), []byte("chunk-2"), []byte("[DONE]")}
	if !got.IsStream() || len(got.Events) != len(want) {
		t.Fatalf("replayed events = %q, want %q", got.Events, want)
	}
	for i := range want {
		if !bytes.Equal(got.Events[i], want[i]) {
			t.Errorf("event %d = %q, want %q", i, got.Events[i], want[i])
		}
	}
}
