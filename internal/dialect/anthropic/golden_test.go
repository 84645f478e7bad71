package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update and review the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func indent(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	return append(b.Bytes(), '\n')
}

// fixtures lists testdata/dir/*.in.ext as name → path.
func fixtures(t *testing.T, dir, ext string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.in."+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ".in."+ext)] = p
	}
	return out
}

func goldenPath(in, ext string) string { return in[:strings.Index(in, ".in.")] + ".golden." + ext }

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRequestGolden translates Messages requests (testdata/request) into
// OpenAI chat requests, or into the 400 the client gets.
func TestRequestGolden(t *testing.T) {
	for name, path := range fixtures(t, "request", "json") {
		t.Run(name, func(t *testing.T) {
			req, err := TranslateRequest(read(t, path))
			var got []byte
			if err != nil {
				var re *RequestError
				if !errors.As(err, &re) {
					t.Fatalf("error %v is not a *RequestError", err)
				}
				got, _ = json.Marshal(map[string]any{"error": re})
			} else {
				got = req.Body
				var chat struct {
					Model  string `json:"model"`
					Stream bool   `json:"stream"`
				}
				if json.Unmarshal(req.Body, &chat) != nil || chat.Model != req.Model || chat.Stream != req.Stream {
					t.Errorf("Request{Model: %q, Stream: %v} disagrees with its body", req.Model, req.Stream)
				}
			}
			if strings.HasPrefix(name, "err_") != (err != nil) {
				t.Errorf("err_ fixtures must fail and others succeed; got err=%v", err)
			}
			golden(t, goldenPath(path, "json"), indent(t, got))
		})
	}
}

// TestResponseGolden translates OpenAI chat completions
// (testdata/response) into Messages answers.
func TestResponseGolden(t *testing.T) {
	for name, path := range fixtures(t, "response", "json") {
		t.Run(name, func(t *testing.T) {
			out, err := TranslateResponse(read(t, path), ResponseOptions{Model: "requested-model", ID: "req_fixture"})
			if strings.HasPrefix(name, "err_") != (err != nil) {
				t.Fatalf("err_ fixtures must fail and others succeed; got err=%v", err)
			}
			if err != nil {
				out, _ = json.Marshal(map[string]string{"error": err.Error()})
			}
			golden(t, goldenPath(path, "json"), indent(t, out))
		})
	}
}

// TestStreamGolden feeds OpenAI chunks (testdata/stream, one "data:" line
// each) to a translator and records the Anthropic events and how the
// stream ended.
func TestStreamGolden(t *testing.T) {
	for name, path := range fixtures(t, "stream", "sse") {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			tr := NewStreamTranslator(ResponseOptions{Model: "requested-model", ID: "req_fixture"})
			var all []Event
			sc := bufio.NewScanner(bytes.NewReader(read(t, path)))
			failed := false
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				events, err := tr.Chunk([]byte(data))
				if err != nil {
					fmt.Fprintf(&out, "error: %v\n", err)
					failed = true
					break
				}
				all = append(all, writeEvents(&out, events)...)
			}
			if !failed {
				all = append(all, writeEvents(&out, tr.End())...)
				checkOrder(t, all)
			}
			golden(t, goldenPath(path, "txt"), out.Bytes())
		})
	}
}

// writeEvents prints events and returns copies of them.
func writeEvents(out *bytes.Buffer, events []Event) []Event {
	cp := make([]Event, len(events))
	for i, ev := range events {
		fmt.Fprintf(out, "event: %s\ndata: %s\n\n", ev.Name, ev.Data)
		cp[i] = Event{Name: ev.Name, Data: bytes.Clone(ev.Data)}
	}
	return cp
}
