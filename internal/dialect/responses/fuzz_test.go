package responses

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkOrder checks the invariants of a translated event stream: data is a
// JSON object whose type is the event name, sequence numbers count from 0,
// response.created comes first, at most one terminal event comes last,
// and every item and part that is added is done before the next is added.
func checkOrder(t testing.TB, sse []byte) {
	t.Helper()
	var (
		seq      int
		terminal bool
		openItem = -1
		openPart bool
	)
	for block := range strings.SplitSeq(strings.TrimSuffix(string(sse), "\n"), "\n\n") {
		if block == "" || strings.HasPrefix(block, "error: ") {
			continue
		}
		name, data, ok := strings.Cut(block, "\n")
		if !ok || !strings.HasPrefix(name, "event: ") || !strings.HasPrefix(data, "data: ") {
			t.Fatalf("malformed event %q", block)
		}
		name = strings.TrimPrefix(name, "event: ")
		var ev struct {
			Type        string `json:"type"`
			Seq         *int   `json:"sequence_number"`
			OutputIndex *int   `json:"output_index"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &ev); err != nil {
			t.Fatalf("event %s: data is not JSON: %v", name, err)
		}
		switch {
		case ev.Type != name:
			t.Fatalf("event %s has type %q", name, ev.Type)
		case ev.Seq == nil || *ev.Seq != seq:
			t.Fatalf("event %s: sequence_number %v, want %d", name, ev.Seq, seq)
		case seq == 0 && name != "response.created":
			t.Fatalf("first event is %s, want response.created", name)
		case terminal:
			t.Fatalf("event %s after the terminal event", name)
		}
		seq++
		switch name {
		case "response.completed", "response.incomplete", "response.failed":
			if name != "response.failed" && (openItem >= 0 || openPart) {
				t.Fatalf("%s with an item still open", name)
			}
			terminal = true
		case "response.output_item.added":
			if openItem >= 0 {
				t.Fatalf("item %d added while item %d is open", *ev.OutputIndex, openItem)
			}
			openItem = *ev.OutputIndex
		case "response.output_item.done":
			if openItem != *ev.OutputIndex || openPart {
				t.Fatalf("item %d done, open item %d, part open %v", *ev.OutputIndex, openItem, openPart)
			}
			openItem = -1
		case "response.content_part.added":
			if openItem < 0 || openPart {
				t.Fatal("content part added outside an item or inside another part")
			}
			openPart = true
		case "response.content_part.done":
			openPart = false
		case "response.output_text.delta", "response.refusal.delta":
			if !openPart {
				t.Fatalf("%s outside a content part", name)
			}
		case "response.function_call_arguments.delta":
			if openItem != *ev.OutputIndex {
				t.Fatalf("arguments delta for item %d, open item %d", *ev.OutputIndex, openItem)
			}
		}
	}
}

// FuzzStream feeds arbitrary chunk sequences to the stream translator: it
// must not panic or hang, and what it emits must keep the event order,
// ending with a terminal event whether the stream is done or failed.
func FuzzStream(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "stream", "*.sse"))
	for _, p := range paths {
		if strings.Contains(p, ".golden") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"a\"},{\"function\":{\"arguments\":\"x\"}},{\"id\":\"b\"}]}}]}\n!fail\n"))
	f.Add([]byte("data: null\ndata: {}\n[DONE]\n[DONE]\ndata: {}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := runStream(in)
		checkOrder(t, got)
		lines := strings.Split(string(in), "\n")
		if err != nil || slices.Contains(lines, "[DONE]") || slices.Contains(lines, "!fail") {
			if !bytes.Contains(got, []byte("event: response.completed")) && !bytes.Contains(got, []byte("event: response.incomplete")) &&
				!bytes.Contains(got, []byte("event: response.failed")) {
				t.Fatalf("no terminal event for %q:\n%s", in, got)
			}
		}
	})
}

// FuzzTranslateRequest checks that any body either translates to a valid
// chat request or fails with a *RequestError, never a panic.
func FuzzTranslateRequest(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "request", "*.json"))
	for _, p := range paths {
		if strings.Contains(p, ".golden") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := TranslateRequest(in)
		if err != nil {
			if re := (*RequestError)(nil); !errors.As(err, &re) {
				t.Fatalf("error %T %v is not a *RequestError", err, err)
			}
			return
		}
		var chat struct {
			Model    string            `json:"model"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(tr.Chat, &chat); err != nil || chat.Model == "" || len(chat.Messages) == 0 {
			t.Fatalf("chat request %s: %v", tr.Chat, err)
		}
		if _, err := TranslateBody([]byte(`{"choices":[{"message":{"content":"x"}}]}`), Meta{Echo: tr.Echo}); err != nil {
			t.Fatalf("echo does not encode: %v", err)
		}
	})
}
