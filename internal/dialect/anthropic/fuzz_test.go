package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzStreamTranslator feeds any sequence of chunks (one per line) to a
// translator: it never panics, and unless it reports an error, the stream
// it produces is complete, in Anthropic's order and valid JSON throughout.
func FuzzStreamTranslator(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "stream", "*.in.sse"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.ReplaceAll(b, []byte("data: "), nil))
	}
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}`))
	f.Add([]byte(`{"choices":[{"delta":{"content":"\u2028\ud800"},"finish_reason":"stop"}],"usage":{"prompt_tokens":-5,"prompt_tokens_details":{"cached_tokens":99}}}`))
	f.Add([]byte("null\n[]\n{}"))
	f.Fuzz(func(t *testing.T, input []byte) {
		tr := NewStreamTranslator(ResponseOptions{Model: "m", ID: "req_fuzz"})
		var all []Event
		for line := range bytes.SplitSeq(input, []byte("\n")) {
			events, err := tr.Chunk(line)
			if err != nil {
				return
			}
			all = append(all, clone(events)...)
		}
		all = append(all, clone(tr.End())...)
		if more := tr.End(); len(more) != 0 {
			t.Fatalf("End twice emitted %v", names(more))
		}
		checkOrder(t, all)
		for _, ev := range all {
			if !json.Valid(ev.Data) {
				t.Fatalf("invalid JSON in %s: %s", ev.Name, ev.Data)
			}
		}
	})
}

func clone(events []Event) []Event {
	out := make([]Event, len(events))
	for i, ev := range events {
		out[i] = Event{Name: ev.Name, Data: bytes.Clone(ev.Data)}
	}
	return out
}

// FuzzTranslateRequest checks that any body either translates into a
// valid JSON chat request with messages, or fails with a *RequestError.
func FuzzTranslateRequest(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "request", "*.in.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := TranslateRequest(body)
		if err != nil {
			if _, ok := err.(*RequestError); !ok {
				t.Fatalf("error %T %v is not a *RequestError", err, err)
			}
			return
		}
		var chat struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(req.Body, &chat); err != nil || len(chat.Messages) == 0 {
			t.Fatalf("translated body %s: %v", req.Body, err)
		}
	})
}
