package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate/internal/sse"
)

// maxFuzzInput bounds fuzz inputs so every run ends quickly.
const maxFuzzInput = 64 << 10

// addFixtures seeds f with the golden inputs of testdata/dir.
func addFixtures(f *testing.F, dir, ext string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*.in."+ext))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzStreamTranslator feeds arbitrary bytes as an Anthropic event stream:
// the translation must not panic or loop, and must yield valid chunk JSON
// events ending in io.EOF (only after message_stop) or a clean error.
func FuzzStreamTranslator(f *testing.F) {
	addFixtures(f, "stream", "sse")
	f.Add([]byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Add([]byte("data: {\"type\":\"message_start\",\"message\":{\"id\":\"\\ud800\",\"model\":\"m\"}}\n\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		r := sse.NewReader(bytes.NewReader(in), sse.ReaderOptions{MaxEventBytes: maxFuzzInput})
		var tr StreamTranslator
		for i := 0; ; i++ {
			if i > len(in) {
				t.Fatalf("more events than input bytes: the translator loops")
			}
			ev, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("reader: %v", err)
				}
				return
			}
			chunk, done, err := tr.Event(ev.Name, ev.Data)
			if err != nil {
				var se *StreamError
				if !errors.As(err, &se) && !errors.Is(err, ErrMalformedEvent) {
					t.Fatalf("unclassified error %T: %v", err, err)
				}
				return
			}
			if chunk != nil {
				var c struct {
					Object  string            `json:"object"`
					Choices []json.RawMessage `json:"choices"`
				}
				if err := json.Unmarshal(chunk, &c); err != nil || c.Object != "chat.completion.chunk" || c.Choices == nil {
					t.Fatalf("invalid chunk (%v): %s", err, chunk)
				}
			}
			if done {
				if c, d, err := tr.Event("", []byte(`{"type":"ping"}`)); c != nil || !d || err != nil {
					t.Fatalf("events after message_stop must be ignored")
				}
				return
			}
		}
	})
}

// FuzzRequestTranslator feeds arbitrary JSON as a chat request: the result
// is a Messages API body with a model, max_tokens and messages, or a
// *RequestError.
func FuzzRequestTranslator(f *testing.F) {
	addFixtures(f, "request", "json")
	f.Add([]byte(`{"model":"m","messages":[{"role":"tool","content":null}]}`))
	f.Add([]byte(`{"model":"m","temperature":-1,"messages":[{"role":"user","content":"x"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		out, err := TranslateRequest(in, RequestOptions{})
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Message == "" {
				t.Fatalf("not a clean request error: %T %v", err, err)
			}
			return
		}
		var req struct {
			Model     string            `json:"model"`
			MaxTokens int               `json:"max_tokens"`
			Messages  []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(out, &req); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if req.Model == "" || req.MaxTokens < 1 || len(req.Messages) == 0 {
			t.Fatalf("output lacks model, max_tokens or messages: %s", out)
		}
	})
}
