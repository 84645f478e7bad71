package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testIDs returns reproducible ids ("id1", "id2", ...) and a fixed clock.
func testIDs() idSource {
	n := 0
	return idSource{
		now:    func() time.Time { return time.Unix(1767225600, 0) },
		random: func() string { n++; return "id" + strconv.Itoa(n) },
	}
}

// golden compares got with the golden file path (rewriting it with -update).
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
		t.Errorf("%s differs (run go test -update and review the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// inputs lists testdata/dir files ending in ext, without golden files.
func inputs(t *testing.T, dir, ext string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s fixtures in testdata/%s: %v", ext, dir, err)
	}
	return files
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return append(out.Bytes(), '\n')
}

// describeErr renders an error for a golden file.
func describeErr(err error) []byte {
	var pe *provider.Error
	if errors.As(err, &pe) {
		return fmt.Appendf(nil, "error kind=%s phase=%s status=%d type=%q code=%q retry_after=%v\nmessage: %s\n",
			pe.Kind, pe.Phase, pe.Status, pe.Type, pe.Code, pe.RetryAfter, pe.Message)
	}
	return fmt.Appendf(nil, "error: %v\n", err)
}

func TestGoldenRequests(t *testing.T) {
	a := &Adapter{channel: "gem", base: DefaultBaseURL, ids: testIDs()}
	for _, in := range inputs(t, "requests", ".json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c, err := a.translate(&provider.Request{Endpoint: provider.EndpointChat, Body: body})
			var got []byte
			if err != nil {
				got = describeErr(err)
			} else {
				got = append([]byte("POST "+c.url+"\n"), indent(t, c.body)...)
			}
			if strings.HasPrefix(filepath.Base(in), "err_") != (err != nil) {
				t.Errorf("error = %v; fixtures named err_* must fail and only those", err)
			}
			golden(t, strings.TrimSuffix(in, ".json")+".golden", got)
		})
	}
}

func TestGoldenResponses(t *testing.T) {
	a := &Adapter{channel: "gem"}
	for _, in := range inputs(t, "responses", ".json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := translateResponse(body, "requested-model", testIDs())
			var got []byte
			if err != nil {
				got = describeErr(a.answerError(err))
			} else {
				got = indent(t, out)
			}
			if strings.HasPrefix(filepath.Base(in), "err_") != (err != nil) {
				t.Errorf("error = %v; fixtures named err_* must fail and only those", err)
			}
			golden(t, strings.TrimSuffix(in, ".json")+".golden", got)
		})
	}
}

// readStream translates a whole Gemini SSE stream, rendering each chunk
// as a data line and the end as "EOF" or the error.
func readStream(in []byte) []byte {
	st := newStream("gem", io.NopCloser(bytes.NewReader(in)), func(error) {}, provider.Timeouts{}, newTranslator("requested-model", testIDs()))
	defer st.Close()
	var out bytes.Buffer
	for range 10000 {
		ev, err := st.Next(context.Background())
		if errors.Is(err, io.EOF) {
			out.WriteString("EOF\n")
			return out.Bytes()
		}
		if err != nil {
			out.Write(describeErr(err))
			return out.Bytes()
		}
		out.WriteString("data: ")
		out.Write(ev.Data)
		out.WriteString("\n")
	}
	out.WriteString("(too many events)\n")
	return out.Bytes()
}

func TestGoldenStreams(t *testing.T) {
	for _, in := range inputs(t, "streams", ".sse") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := readStream(body)
			for line := range strings.Lines(string(got)) {
				if data, ok := strings.CutPrefix(line, "data: "); ok && !json.Valid([]byte(data)) {
					t.Errorf("invalid chunk JSON: %s", data)
				}
			}
			golden(t, strings.TrimSuffix(in, ".sse")+".golden", got)
		})
	}
}

func TestGoldenErrors(t *testing.T) {
	for _, in := range inputs(t, "errors", ".http") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			first, body, _ := bytes.Cut(raw, []byte("\n"))
			status, err := strconv.Atoi(string(first))
			if err != nil {
				t.Fatalf("first line must be the HTTP status: %v", err)
			}
			golden(t, strings.TrimSuffix(in, ".http")+".golden", describeErr(mapError(status, body)))
		})
	}
}

func TestGoldenEmbeddings(t *testing.T) {
	for _, in := range inputs(t, "embeddings", ".json") {
		if strings.HasSuffix(in, ".response.json") {
			continue
		}
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c, err := translateEmbeddings(body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := os.ReadFile(strings.TrimSuffix(in, ".json") + ".response.json")
			if err != nil {
				t.Fatal(err)
			}
			out, err := translateEmbeddingsResponse(resp, c)
			if err != nil {
				t.Fatal(err)
			}
			got := append([]byte("request:\n"), indent(t, c.body)...)
			got = append(got, "response:\n"...)
			got = append(got, indent(t, out)...)
			golden(t, strings.TrimSuffix(in, ".json")+".golden", got)
		})
	}
}
