package responses

import (
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

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testMeta is the Meta every golden answer is translated with.
var testMeta = Meta{ID: "resp_req_1", CreatedAt: 1741569952, Echo: Echo{Model: "gpt-4.1"}}

// golden compares got with the golden file path, or rewrites it with -update.
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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it; review the diff):\n got: %s\nwant: %s", path, got, want)
	}
}

// fixtures lists testdata/dir/*ext, without golden files.
func fixtures(t *testing.T, dir, ext string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	var out []string
	for _, p := range paths {
		if !strings.Contains(p, ".golden") {
			out = append(out, p)
		}
	}
	return out
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return append(buf.Bytes(), '\n')
}

// errorGolden renders a translation error; only *RequestError is expected.
func errorGolden(t *testing.T, err error) []byte {
	t.Helper()
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *RequestError", err)
	}
	b, _ := json.Marshal(re)
	return indent(t, b)
}

// TestTranslateRequestGolden translates testdata/request/*.json into the
// chat request (and the echo) or, for err_* fixtures, the error.
func TestTranslateRequestGolden(t *testing.T) {
	for _, path := range fixtures(t, "request", ".json") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := TranslateRequest(in)
			out := strings.TrimSuffix(path, ".json") + ".golden.json"
			if strings.HasPrefix(name, "err_") {
				if err == nil {
					t.Fatalf("translated, want an error: %s", tr.Chat)
				}
				golden(t, out, errorGolden(t, err))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, out, indent(t, tr.Chat))
			// The echoed parameters appear on the response object.
			m := testMeta
			m.Echo = tr.Echo
			body, err := TranslateBody([]byte(`{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}`), m)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(path, ".json")+".golden.response.json", indent(t, body))
		})
	}
}

// TestTranslateBodyGolden translates testdata/body/*.json chat completions.
func TestTranslateBodyGolden(t *testing.T) {
	for _, path := range fixtures(t, "body", ".json") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TranslateBody(in, testMeta)
			out := strings.TrimSuffix(path, ".json") + ".golden.json"
			if strings.HasPrefix(name, "err_") {
				if err == nil {
					t.Fatalf("translated, want an error: %s", got)
				}
				golden(t, out, []byte(err.Error()+"\n"))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, out, indent(t, got))
		})
	}
}

// runStream feeds a fixture to a Stream: "data: " lines are chunks,
// "[DONE]" ends it with Done and "!fail" with Fail. It returns the events
// as SSE text, and the first error (after which the stream is failed).
func runStream(in []byte) ([]byte, error) {
	s := NewStream(testMeta)
	var out bytes.Buffer
	write := func(evs []Event) {
		for _, ev := range evs {
			fmt.Fprintf(&out, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
		}
	}
	for line := range strings.SplitSeq(string(in), "\n") {
		switch {
		case line == "[DONE]":
			write(s.Done())
		case line == "!fail":
			write(s.Fail("server_error", "upstream_cut", "The stream was interrupted."))
		case strings.HasPrefix(line, "data: "):
			evs, err := s.Chunk([]byte(strings.TrimPrefix(line, "data: ")))
			if err != nil {
				// The server ends a stream it cannot translate with Fail.
				write(s.Fail("server_error", "upstream_malformed", err.Error()))
				return out.Bytes(), err
			}
			write(evs)
		}
	}
	return out.Bytes(), nil
}

// TestStreamGolden translates testdata/stream/*.sse chunk sequences.
func TestStreamGolden(t *testing.T) {
	for _, path := range fixtures(t, "stream", ".sse") {
		name := strings.TrimSuffix(filepath.Base(path), ".sse")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runStream(in)
			if strings.HasPrefix(name, "err_") {
				if err == nil {
					t.Fatal("translated, want an error")
				}
				got = append(got, "error: "+err.Error()+"\n"...)
			} else if err != nil {
				t.Fatal(err)
			}
			checkOrder(t, got)
			golden(t, strings.TrimSuffix(path, ".sse")+".golden.sse", got)
		})
	}
}
