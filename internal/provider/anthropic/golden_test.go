package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of golden runs, so "created" is stable.
var fixedNow = time.Unix(1741569952, 0)

// golden compares got with dir/name.golden.*, or rewrites it with -update.
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

// inputs lists testdata/dir/*.in.<ext> as name → path.
func inputs(t *testing.T, dir, ext string) map[string]string {
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

func goldenPath(in, ext string) string {
	return in[:strings.Index(in, ".in.")] + ".golden." + ext
}

// read returns the contents of the fixture at path.
func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRequestGolden translates OpenAI requests (testdata/request) into
// Messages API bodies, or into the 400 the client gets.
func TestRequestGolden(t *testing.T) {
	for name, path := range inputs(t, "request", "json") {
		t.Run(name, func(t *testing.T) {
			in := read(t, path)
			out, err := TranslateRequest(in, RequestOptions{DefaultMaxTokens: 1024})
			var got []byte
			if err != nil {
				var re *RequestError
				if !errors.As(err, &re) {
					t.Fatalf("error %v is not a *RequestError", err)
				}
				got, _ = json.Marshal(map[string]any{"error": re})
			} else {
				got = out
			}
			if strings.HasPrefix(name, "err_") != (err != nil) {
				t.Errorf("err_ fixtures must fail and others succeed; got err=%v", err)
			}
			golden(t, goldenPath(path, "json"), indent(t, got))
		})
	}
}

// TestResponseGolden sends Messages API answers (testdata/response)
// through the adapter and compares the OpenAI completion.
func TestResponseGolden(t *testing.T) {
	for name, path := range inputs(t, "response", "json") {
		t.Run(name, func(t *testing.T) {
			body := read(t, path)
			a := fixtureAdapter(t, http.StatusOK, "application/json", nil, body)
			resp, err := a.Do(t.Context(), chatRequest1(false))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, goldenPath(path, "json"), indent(t, resp.Body))
		})
	}
}

// TestStreamGolden sends Messages API streams (testdata/stream) through
// the adapter and records every OpenAI chunk and how the stream ended.
func TestStreamGolden(t *testing.T) {
	for name, path := range inputs(t, "stream", "sse") {
		t.Run(name, func(t *testing.T) {
			body := read(t, path)
			a := fixtureAdapter(t, http.StatusOK, "text/event-stream", nil, body)
			resp, err := a.Do(t.Context(), chatRequest1(true))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			var out bytes.Buffer
			chunks, end := drain(t.Context(), resp.Stream, 1000)
			for _, c := range chunks {
				fmt.Fprintf(&out, "data: %s\n", c)
			}
			fmt.Fprintf(&out, "end: %s\n", end)
			checkChunks(t, chunks)
			golden(t, goldenPath(path, "txt"), out.Bytes())
		})
	}
}

// TestErrorGolden answers with Anthropic error statuses (testdata/errors)
// and records the provider.Error the router and server see.
func TestErrorGolden(t *testing.T) {
	for name, path := range inputs(t, "errors", "json") {
		t.Run(name, func(t *testing.T) {
			raw := read(t, path)
			var fx struct {
				Status  int               `json:"status"`
				Headers map[string]string `json:"headers"`
				Body    json.RawMessage   `json:"body"`
				Text    string            `json:"text"`
			}
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatal(err)
			}
			body, ct := []byte(fx.Body), "application/json"
			if fx.Text != "" {
				body, ct = []byte(fx.Text), "text/html"
			}
			a := fixtureAdapter(t, fx.Status, ct, fx.Headers, body)
			_, err := a.Do(t.Context(), chatRequest1(false))
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *provider.Error", err)
			}
			got, _ := json.Marshal(map[string]any{"kind": pe.Kind, "phase": pe.Phase, "status": pe.Status, "type": pe.Type,
				"code": pe.Code, "message": pe.Message, "retry_after": pe.RetryAfter.String()})
			golden(t, goldenPath(path, "json"), indent(t, got))
		})
	}
}

// fixtureAdapter returns an adapter whose upstream answers every request
// with status, contentType, headers and body.
func fixtureAdapter(t *testing.T, status int, contentType string, headers map[string]string, body []byte) *Adapter {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" || r.Header.Get("X-Api-Key") != "sk-ant-test" || r.Header.Get("Anthropic-Version") != DefaultVersion {
			http.Error(w, "unexpected request "+r.URL.Path, http.StatusTeapot)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	a, err := New(Options{Channel: "claude", BaseURL: srv.URL, APIKey: "sk-ant-test", Client: srv.Client(),
		Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func chatRequest1(stream bool) *provider.Request {
	body := `{"model":"claude-sonnet-4","messages":[{"role":"user","content":"hi"}]}`
	return &provider.Request{Endpoint: provider.EndpointChat, Body: []byte(body), Stream: stream}
}

// drain reads up to limit events and describes how the stream ended.
func drain(ctx context.Context, st provider.Stream, limit int) (chunks []string, end string) {
	for range limit {
		ev, err := st.Next(ctx)
		if errors.Is(err, io.EOF) {
			return chunks, "EOF"
		}
		if err != nil {
			var pe *provider.Error
			if errors.As(err, &pe) {
				return chunks, fmt.Sprintf("error kind=%s phase=%s type=%s code=%s message=%q", pe.Kind, pe.Phase, pe.Type, pe.Code, pe.Message)
			}
			return chunks, "error " + err.Error()
		}
		chunks = append(chunks, string(ev.Data))
	}
	return chunks, "too many events"
}

// checkChunks pins the stream rules clients rely on: valid JSON, one id,
// created and model, role once, tool indexes contiguous from 0 with the
// header (id, name) only in the first delta of each call.
func checkChunks(t *testing.T, chunks []string) {
	t.Helper()
	type chunk struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		Model   string `json:"model"`
		Choices []struct {
			Delta struct {
				Role      string `json:"role"`
				ToolCalls []struct {
					Index    *int   `json:"index"`
					ID       string `json:"id"`
					Function struct {
						Name string `json:"name"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
		Error json.RawMessage `json:"error"`
	}
	var first chunk
	roles, nextTool := 0, 0
	for i, raw := range chunks {
		var c chunk
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			t.Fatalf("chunk %d is not JSON: %v\n%s", i, err, raw)
		}
		if i == 0 {
			first = c
		}
		if c.ID != first.ID || c.Created != first.Created || c.Model != first.Model || c.Object != "chat.completion.chunk" {
			t.Errorf("chunk %d: id/created/model/object changed: %s", i, raw)
		}
		if c.Error != nil {
			t.Errorf("chunk %d has a top-level error key", i)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Role != "" {
				roles++
			}
			for _, tc := range ch.Delta.ToolCalls {
				switch {
				case tc.Index == nil:
					t.Errorf("chunk %d: tool call without index", i)
				case tc.ID != "":
					if *tc.Index != nextTool || tc.Function.Name == "" {
						t.Errorf("chunk %d: tool header index %d, want %d with a name", i, *tc.Index, nextTool)
					}
					nextTool++
				case *tc.Index >= nextTool || tc.Function.Name != "":
					t.Errorf("chunk %d: argument delta for unknown call %d or repeating the name", i, *tc.Index)
				}
			}
		}
	}
	if len(chunks) > 0 && roles != 1 {
		t.Errorf("role sent %d times, want once", roles)
	}
}
