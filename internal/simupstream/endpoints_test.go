package simupstream

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/openai"
)

func TestCompletions(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	tests := []struct {
		name         string
		body         string
		prompt       string
		max          int
		stream       bool
		includeUsage bool
	}{
		{"string prompt", `{"model":"m","prompt":"once upon a time"}`, "once upon a time", 0, false, false},
		{"array prompt clipped", `{"model":"m","prompt":["a b","c"],"max_tokens":4}`, "a b\nc", 4, false, false},
		{"token prompt", `{"model":"m","prompt":[1,2,3]}`, "1 2 3", 0, false, false},
		{"stream", `{"model":"m","prompt":"hi","stream":true}`, "hi", 0, true, false},
		{"stream with usage", `{"model":"m","prompt":"hi","stream":true,"stream_options":{"include_usage":true}}`, "hi", 0, true, true},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, body := c.mustDo(t, "/completions", tt.body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				want := sim.Answer("m", tt.prompt, tt.max)
				if !tt.stream {
					got := decodeJSON[openai.Completion](t, body)
					if got.Object != "text_completion" || !strings.HasPrefix(got.ID, "cmpl-sim-") || len(got.Choices) != 1 ||
						got.Choices[0].Text != want || got.Usage == nil || got.Usage.TotalTokens != got.Usage.PromptTokens+got.Usage.CompletionTokens {
						t.Errorf("response = %s, want text %q", body, want)
					}
					return
				}
				events, _ := readEvents(strings.NewReader(string(body)))
				if len(events) == 0 || events[len(events)-1] != "[DONE]" {
					t.Fatalf("events = %q", events)
				}
				var text, finish string
				var usage *openai.Usage
				for _, ev := range events[:len(events)-1] {
					if _, ok := keysOf(t, []byte(ev))["usage"]; ok != tt.includeUsage {
						t.Errorf("usage key present = %v: %s", ok, ev)
					}
					ch := decodeJSON[openai.CompletionChunk](t, []byte(ev))
					if ch.Object != "text_completion" {
						t.Errorf("object = %q", ch.Object)
					}
					for _, c := range ch.Choices {
						text += c.Text
						if c.FinishReason != nil {
							finish = *c.FinishReason
						}
					}
					if ch.Usage != nil {
						usage = ch.Usage
					}
				}
				if text != want || finish != "stop" || (usage != nil) != tt.includeUsage {
					t.Errorf("text %q finish %q usage %v; want %q", text, finish, usage, want)
				}
			})
		}
	}
}

func TestEmbeddings(t *testing.T) {
	t.Parallel()
	sim := New(Options{Profiles: map[string]Profile{"wide": {EmbeddingDims: 32}}})
	tests := []struct {
		name     string
		body     string
		wantN    int
		wantDims int
		tokens   int64
	}{
		{"string", `{"model":"m","input":"hello embedded world"}`, 1, DefaultEmbeddingDims, 3},
		{"strings base64", `{"model":"m","input":["a","b c"],"encoding_format":"base64"}`, 2, DefaultEmbeddingDims, 3},
		{"tokens", `{"model":"m","input":[5,6,7,8]}`, 1, DefaultEmbeddingDims, 4},
		{"token arrays base64", `{"model":"m","input":[[5,6],[7]],"encoding_format":"base64"}`, 2, DefaultEmbeddingDims, 3},
		{"profile dims", `{"model":"wide","input":"x"}`, 1, 32, 1},
		{"request dims win", `{"model":"wide","input":"x","dimensions":8,"encoding_format":"float"}`, 1, 8, 1},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, body := c.mustDo(t, "/embeddings", tt.body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				got := decodeJSON[openai.EmbeddingResponse](t, body)
				if got.Object != "list" || len(got.Data) != tt.wantN || got.Usage == nil || got.Usage.PromptTokens != tt.tokens {
					t.Fatalf("response = %s", body)
				}
				base64 := strings.Contains(tt.body, "base64")
				for i, e := range got.Data {
					if e.Index != i || e.Object != "embedding" || (e.Embedding[0] == '"') != base64 {
						t.Errorf("item %d = %s", i, e.Embedding)
					}
					v, err := e.Floats()
					if err != nil || len(v) != tt.wantDims {
						t.Fatalf("item %d: %d dims, err %v", i, len(v), err)
					}
					var norm float64
					for _, x := range v {
						norm += float64(x) * float64(x)
					}
					if math.Abs(norm-1) > 1e-4 {
						t.Errorf("item %d norm² = %v", i, norm)
					}
				}
			})
		}
	}
}

func TestEmbeddingsDeterministicAcrossEncodings(t *testing.T) {
	t.Parallel()
	c := conns(t, New(Options{}))[1]
	tests := []struct {
		name string
		body string
	}{
		{"float", `{"model":"m","input":"same text"}`},
		{"base64", `{"model":"m","input":"same text","encoding_format":"base64"}`},
		{"other model", `{"model":"n","input":["same text"]}`},
	}
	var first []float32
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := c.mustDo(t, "/embeddings", tt.body)
			v, err := decodeJSON[openai.EmbeddingResponse](t, body).Data[0].Floats()
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = v
			} else if !slices.Equal(first, v) {
				t.Errorf("vector differs: %v vs %v", v, first)
			}
		})
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   Options
		path   string
		status int
		want   []string
	}{
		{"profile names sorted", Options{Profiles: map[string]Profile{"b": {}, "a": {}}}, "/v1/models", 200, []string{"a", "b"}},
		{"explicit list", Options{Profiles: map[string]Profile{"b": {}}, Models: []string{"z", "y"}}, "/v1/models", 200, []string{"z", "y"}},
		{"without v1 prefix", Options{Models: []string{"x"}}, "/models", 200, []string{"x"}},
		{"one model", Options{Models: []string{"x"}}, "/v1/models/x", 200, []string{"x"}},
		{"unknown model", Options{Models: []string{"x"}}, "/v1/models/nope", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := conn{name: "transport", client: &http.Client{Transport: Transport(New(tt.opts))}, base: "http://sim.invalid"}
			resp, body := c.mustDo(t, tt.path, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var got []string
			switch {
			case tt.status != 200:
				if e := decodeJSON[openai.ErrorResponse](t, body); e.Error.Code == nil || *e.Error.Code != "model_not_found" {
					t.Errorf("error = %s", body)
				}
				return
			case strings.Contains(tt.path, "/models/"):
				m := decodeJSON[openai.Model](t, body)
				got = []string{m.ID}
			default:
				l := decodeJSON[openai.ModelList](t, body)
				if l.Object != "list" {
					t.Errorf("object = %q", l.Object)
				}
				for _, m := range l.Data {
					if m.Object != "model" || m.OwnedBy == "" || m.Created == 0 {
						t.Errorf("model entry %+v", m)
					}
					got = append(got, m.ID)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("models = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetProfileAddsListedModel(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	sim.SetProfile("late", Profile{})
	if got := sim.ModelNames(); !slices.Equal(got, []string{"late"}) {
		t.Errorf("ModelNames() = %q", got)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		status    int
		wantParam string
	}{
		{"invalid json", "POST", "/v1/chat/completions", `{"model":`, 400, ""},
		{"wrong type", "POST", "/v1/chat/completions", `{"model":1,"messages":[]}`, 400, ""},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model"},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, "messages"},
		{"zero max_tokens", "POST", "/v1/chat/completions", chatBody("m", "x", `"max_tokens":0`), 400, "max_tokens"},
		{"tool without name", "POST", "/v1/chat/completions", chatBody("m", "x", `"tools":[{"type":"function","function":{}}]`), 400, "tools"},
		{"completion bad prompt", "POST", "/v1/completions", `{"model":"m","prompt":{"a":1}}`, 400, "prompt"},
		{"embeddings no input", "POST", "/v1/embeddings", `{"model":"m"}`, 400, "input"},
		{"embeddings empty string", "POST", "/v1/embeddings", `{"model":"m","input":["a",""]}`, 400, "input"},
		{"embeddings bad format", "POST", "/v1/embeddings", `{"model":"m","input":"a","encoding_format":"int8"}`, 400, "encoding_format"},
		{"embeddings bad dims", "POST", "/v1/embeddings", `{"model":"m","input":"a","dimensions":0}`, 400, "dimensions"},
		{"responses without model", "POST", "/v1/responses", `{"input":"hi"}`, 400, "model"},
		{"responses bad input", "POST", "/v1/responses", `{"model":"m","input":7}`, 400, "input"},
		{"unknown path", "POST", "/v1/assistants", `{}`, 404, ""},
		{"unknown root path", "GET", "/", ``, 404, ""},
		{"get chat", "GET", "/v1/chat/completions", ``, 405, ""},
		{"post models", "POST", "/models", `{}`, 405, ""},
	}
	t.Cleanup(func() {
		if n := sim.Requests("m"); n != 0 {
			t.Errorf("bad requests counted: %d", n)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, "http://sim.invalid"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: Transport(sim)}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (%s), want %d: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, body)
			}
			e := decodeJSON[openai.ErrorResponse](t, body)
			if e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
				t.Errorf("error body = %s", body)
			}
			if tt.wantParam != "" && (e.Error.Param == nil || *e.Error.Param != tt.wantParam) {
				t.Errorf("param = %v, want %q", e.Error.Param, tt.wantParam)
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}
