package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

func TestChatNonStream(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	sim := g.sim(t, "sim")
	tests := []struct {
		name      string
		model     string
		maxTokens int64
		finish    string
	}{
		{name: "full answer", model: "sim-chat", finish: "stop"},
		{name: "alias", model: "sim", finish: "stop"},
		{name: "clipped by max_completion_tokens", model: "sim-chat", maxTokens: 5, finish: "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prompt := "say something about " + tt.name
			params := chatParams(tt.model, prompt)
			if tt.maxTokens > 0 {
				params.MaxCompletionTokens = openai.Int(tt.maxTokens)
			}
			var resp *http.Response
			got, err := client.Chat.Completions.New(t.Context(), params, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			want := sim.Answer(upstreamChat, prompt, int(tt.maxTokens))
			if len(got.Choices) != 1 || got.Choices[0].Message.Content != want {
				t.Fatalf("content = %+v, want %q", got.Choices, want)
			}
			if fr := got.Choices[0].FinishReason; fr != tt.finish {
				t.Errorf("finish_reason = %q, want %q", fr, tt.finish)
			}
			if got.Model != upstreamChat {
				t.Errorf("model = %q, want the upstream's %q", got.Model, upstreamChat)
			}
			words := int64(len(strings.Fields(want)))
			if u := got.Usage; u.PromptTokens <= 0 || u.CompletionTokens != words || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage = %+v, want %d completion tokens and a consistent total", u, words)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

// rawChunk is a chat chunk decoded loosely enough to see which fields are
// present at all.
type rawChunk struct {
	Choices []struct {
		Index        int                        `json:"index"`
		Delta        map[string]json.RawMessage `json:"delta"`
		FinishReason *string                    `json:"finish_reason"`
	} `json:"choices"`
}

func decodeRaw[T any](t *testing.T, raw string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return v
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		includeUsage bool
		explicit     bool // send stream_options even when includeUsage is false
	}{
		{name: "without include_usage"},
		{name: "with include_usage", includeUsage: true},
		{name: "with include_usage false", includeUsage: false, explicit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newTestGateway(t)
			sim := g.sim(t, "sim")
			prompt := "stream me " + tt.name
			params := chatParams("sim-chat", prompt)
			if tt.includeUsage || tt.explicit {
				params.StreamOptions.IncludeUsage = openai.Bool(tt.includeUsage)
			}
			var resp *http.Response
			client := g.client()
			stream := client.Chat.Completions.NewStreaming(t.Context(), params, option.WithResponseInto(&resp))
			var acc openai.ChatCompletionAccumulator
			usageChunks, roles := 0, 0
			var finishes []string
			for stream.Next() {
				chunk := stream.Current()
				if !acc.AddChunk(chunk) {
					t.Fatalf("accumulator rejected %s", chunk.RawJSON())
				}
				for _, ch := range decodeRaw[rawChunk](t, chunk.RawJSON()).Choices {
					if _, ok := ch.Delta["role"]; ok {
						roles++
					}
					if ch.FinishReason != nil {
						finishes = append(finishes, *ch.FinishReason)
					}
				}
				top := decodeRaw[map[string]json.RawMessage](t, chunk.RawJSON())
				raw, hasUsage := top["usage"]
				switch {
				case !tt.includeUsage && hasUsage:
					t.Errorf("chunk has a usage key the client did not ask for: %s", chunk.RawJSON())
				case !tt.includeUsage && len(chunk.Choices) == 0:
					t.Errorf("chunk with empty choices the client did not ask for: %s", chunk.RawJSON())
				case hasUsage && string(raw) != "null":
					usageChunks++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			want := sim.Answer(upstreamChat, prompt, 0)
			if got := acc.Choices[0].Message.Content; got != want {
				t.Fatalf("assembled %q, want %q", got, want)
			}
			if roles != 1 || !slices.Equal(finishes, []string{"stop"}) {
				t.Errorf("role sent %d times, finish reasons %v; want once and [stop]", roles, finishes)
			}
			if acc.Model != upstreamChat {
				t.Errorf("model = %q, want %q", acc.Model, upstreamChat)
			}
			wantUsageChunks := 0
			if tt.includeUsage {
				wantUsageChunks = 1
				if acc.Usage.CompletionTokens != int64(len(strings.Fields(want))) {
					t.Errorf("usage = %+v", acc.Usage)
				}
			}
			if usageChunks != wantUsageChunks {
				t.Errorf("%d usage chunks, want %d", usageChunks, wantUsageChunks)
			}
			for k, v := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			id := resp.Header.Get("X-Request-Id")
			if id == "" {
				t.Fatal("no X-Request-Id")
			}
			row := rowByID(t, g.requestLogs(t), id)
			words := int64(len(strings.Fields(want)))
			if !row.Stream || row.Status != http.StatusOK || row.CompletionTokens != words || row.PromptTokens <= 0 ||
				row.TotalTokens != row.PromptTokens+row.CompletionTokens {
				t.Errorf("log row = %+v, want a 200 stream with %d completion tokens", row, words)
			}
		})
	}
}

func TestToolCallStream(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	const prompt = "what is the weather in Paris today"
	tool := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Weather for a city"),
		Parameters:  shared.FunctionParameters{"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}},
	})
	params := chatParams("sim-chat", prompt)
	params.Tools = []openai.ChatCompletionToolUnionParam{tool}

	// The simulator's call is deterministic: the non-stream answer is what
	// the stream must assemble to.
	whole, err := client.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Choices) != 1 || len(whole.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("non-stream answer = %s, want one tool call", whole.RawJSON())
	}
	want := whole.Choices[0].Message.ToolCalls[0]
	wantArgs, _ := json.Marshal(map[string]string{"query": prompt})
	if !strings.HasPrefix(want.ID, "call_") || want.Function.Name != "get_weather" || want.Function.Arguments != string(wantArgs) {
		t.Fatalf("simulator call = id %q name %q args %q", want.ID, want.Function.Name, want.Function.Arguments)
	}

	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	var roles, headers, fragments int
	var finishes []string
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			t.Fatalf("accumulator rejected %s", chunk.RawJSON())
		}
		rc := decodeRaw[rawChunk](t, chunk.RawJSON())
		for _, ch := range rc.Choices {
			if ch.Index != 0 {
				t.Errorf("choice index %d", ch.Index)
			}
			if ch.FinishReason != nil {
				finishes = append(finishes, *ch.FinishReason)
			}
			if _, ok := ch.Delta["role"]; ok {
				roles++
			}
			raw, ok := ch.Delta["tool_calls"]
			if !ok {
				continue
			}
			calls := decodeRaw[[]map[string]json.RawMessage](t, string(raw))
			for _, call := range calls {
				if string(call["index"]) != "0" {
					t.Errorf("tool call index %s, want 0", call["index"])
				}
				fn := decodeRaw[map[string]json.RawMessage](t, string(call["function"]))
				_, hasID := call["id"]
				_, hasType := call["type"]
				_, hasName := fn["name"]
				if hasID || hasType || hasName {
					headers++
					if !hasID || !hasType || !hasName || headers != 1 || fragments != 0 {
						t.Errorf("id/type/name must come together in the first delta only: %s", raw)
					}
					continue
				}
				fragments++
				if len(call) != 2 || len(fn) != 1 {
					t.Errorf("a later delta must carry only index and function.arguments: %s", raw)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if roles != 1 || headers != 1 || fragments == 0 {
		t.Errorf("role sent %d times, call header %d times, %d argument fragments; want 1, 1, >0", roles, headers, fragments)
	}
	if !slices.Equal(finishes, []string{"tool_calls"}) {
		t.Errorf("finish reasons %v, want exactly [tool_calls]", finishes)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].ID != want.ID || calls[0].Function.Name != want.Function.Name || calls[0].Function.Arguments != want.Function.Arguments {
		t.Fatalf("assembled %+v, want id %q name %q args %q", calls, want.ID, want.Function.Name, want.Function.Arguments)
	}
}

func TestEmbeddings(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	inputs := []string{"first text to embed", "second one"}
	get := func(t *testing.T, format openai.EmbeddingNewParamsEncodingFormat) *openai.CreateEmbeddingResponse {
		t.Helper()
		resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model:          "sim-embed",
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
			EncodingFormat: format,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != len(inputs) || resp.Model != "sim-embed" || resp.Usage.PromptTokens <= 0 {
			t.Fatalf("response = %s", resp.RawJSON())
		}
		return resp
	}
	tests := []struct {
		name   string
		format openai.EmbeddingNewParamsEncodingFormat
		quoted bool // the vector travels as a base64 string
	}{
		{name: "float", format: openai.EmbeddingNewParamsEncodingFormatFloat},
		{name: "base64", format: openai.EmbeddingNewParamsEncodingFormatBase64, quoted: true},
	}
	ref := get(t, openai.EmbeddingNewParamsEncodingFormatFloat)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(t, tt.format)
			for i, d := range got.Data {
				if raw := d.JSON.Embedding.Raw(); strings.HasPrefix(raw, `"`) != tt.quoted {
					t.Errorf("embedding %d travelled as %.20s..., want quoted=%v", i, raw, tt.quoted)
				}
				if len(d.Embedding) == 0 || !slices.Equal(float32s(d.Embedding), float32s(ref.Data[i].Embedding)) {
					t.Errorf("embedding %d = %v, want %v", i, d.Embedding, ref.Data[i].Embedding)
				}
			}
		})
	}
}

// float32s narrows a vector to the float32 precision embeddings travel in:
// the shortest decimal of a float32 and its exact bits parse to different
// float64s.
func float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestModels(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	restricted := g.newKey(t, store.Key{Models: []string{"sim-chat"}})
	client := g.client(option.WithAPIKey(restricted))

	page, err := client.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"sim", "sim-chat"}) {
		t.Errorf("restricted key lists %v, want only sim-chat and its alias sim", ids)
	}
	unrestricted := g.client()
	all, err := unrestricted.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Data) <= len(ids) {
		t.Errorf("unrestricted key lists %d models, want more than %d", len(all.Data), len(ids))
	}

	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{name: "allowed", id: "sim-chat", ok: true},
		{name: "allowed alias", id: "sim", ok: true},
		{name: "exists but not allowed", id: "sim-embed"},
		{name: "unknown", id: "no-such-model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := client.Models.Get(t.Context(), tt.id)
			if !tt.ok {
				apiErr := wantError(t, err, http.StatusNotFound, "invalid_request_error", "model_not_found")
				if !strings.Contains(apiErr.Message, tt.id) {
					t.Errorf("message %q does not name %s", apiErr.Message, tt.id)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ID != tt.id || m.Object != "model" || m.OwnedBy == "" {
				t.Errorf("model = %s", m.RawJSON())
			}
		})
	}
}

func TestLegacyCompletions(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	sim := g.sim(t, "sim")
	const prompt = "once upon a time"
	params := openai.CompletionNewParams{
		Model:     "sim-chat",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens: openai.Int(8),
	}
	want := sim.Answer(upstreamChat, prompt, 8)

	t.Run("non-stream", func(t *testing.T) {
		got, err := client.Completions.New(t.Context(), params)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Choices) != 1 || got.Choices[0].Text != want || got.Choices[0].FinishReason != "length" {
			t.Fatalf("choices = %+v, want %q", got.Choices, want)
		}
		if got.Model != upstreamChat || got.Usage.CompletionTokens != 8 {
			t.Errorf("model %q usage %+v", got.Model, got.Usage)
		}
	})
	t.Run("stream", func(t *testing.T) {
		stream := client.Completions.NewStreaming(t.Context(), params)
		var text strings.Builder
		for stream.Next() {
			c := stream.Current()
			if strings.Contains(c.RawJSON(), `"usage"`) {
				t.Errorf("chunk carries usage the client did not ask for: %s", c.RawJSON())
			}
			for _, ch := range c.Choices {
				text.WriteString(ch.Text)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != want {
			t.Errorf("assembled %q, want %q", text.String(), want)
		}
	})
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	tests := []struct {
		name string
		sent string
		echo bool
	}{
		{name: "well formed is echoed", sent: "trace-42.a_b:c", echo: true},
		{name: "spaces are replaced", sent: "has spaces"},
		{name: "too long is replaced", sent: strings.Repeat("a", 129)},
		{name: "non-ASCII is replaced", sent: "trace-é"},
		{name: "none gets one", sent: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/v1/models", "/v1/nope"} {
				h := http.Header{}
				if tt.sent != "" {
					h.Set("X-Request-Id", tt.sent)
				}
				resp, _ := g.do(t, http.MethodGet, path, "", h)
				got := resp.Header.Get("X-Request-Id")
				switch {
				case tt.echo && got != tt.sent:
					t.Errorf("%s: X-Request-Id = %q, want the client's %q", path, got, tt.sent)
				case !tt.echo && (got == tt.sent || !strings.HasPrefix(got, "req_")):
					t.Errorf("%s: X-Request-Id = %q, want a fresh req_ id", path, got)
				}
			}
		})
	}
}

func TestRequestLogRows(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	secret := g.newKey(t, store.Key{Name: "log-test"})
	client := g.client(option.WithAPIKey(secret))

	var okResp, streamResp, failResp, notFoundResp, cutResp *http.Response
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("sim", "hello there"), option.WithResponseInto(&okResp)); err != nil {
		t.Fatal(err)
	}
	stream := client.Chat.Completions.NewStreaming(t.Context(), chatParams("sim-chat", "hello stream"), option.WithResponseInto(&streamResp))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	_, err := client.Chat.Completions.New(t.Context(), chatParams("sim-500", "hi"), option.WithResponseInto(&failResp))
	failID := wantError(t, err, http.StatusBadGateway, "server_error", "").Response.Header.Get("X-Request-Id")
	_, err = client.Chat.Completions.New(t.Context(), chatParams("nope", "hi"), option.WithResponseInto(&notFoundResp))
	notFoundID := wantError(t, err, http.StatusNotFound, "invalid_request_error", "model_not_found").Response.Header.Get("X-Request-Id")

	cut := client.Chat.Completions.NewStreaming(t.Context(), chatParams("sim-cut", "hi"), option.WithResponseInto(&cutResp))
	for cut.Next() {
	}
	if cut.Err() == nil {
		t.Fatal("the cut stream succeeded")
	}
	noKey := g.client(option.WithAPIKey(""))
	_, err = noKey.Chat.Completions.New(t.Context(), chatParams("sim", "hi"))
	unauthID := wantError(t, err, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key").Response.Header.Get("X-Request-Id")
	wrongMethod, _ := g.do(t, http.MethodGet, "/v1/embeddings", "", http.Header{"Authorization": {"Bearer " + secret}})

	rows := g.requestLogs(t)
	if len(rows) != 7 {
		t.Fatalf("%d log rows, want 7 (one per request)", len(rows))
	}
	masked := auth.Mask(auth.Last4(secret))
	tests := []struct {
		name                      string
		id                        string
		requested, served, chanel string
		stream                    bool
		status                    int
		errorType                 string
		noKey                     bool   // the request never authenticated
		endpoint                  string // "" means /v1/chat/completions
	}{
		{name: "chat", id: okResp.Header.Get("X-Request-Id"), requested: "sim", served: upstreamChat, chanel: "sim", status: 200},
		{name: "stream", id: streamResp.Header.Get("X-Request-Id"), requested: "sim-chat", served: upstreamChat, chanel: "sim", stream: true, status: 200},
		{name: "upstream failure", id: failID, requested: "sim-500", chanel: "sim", status: 502, errorType: "server_error"},
		{name: "unknown model", id: notFoundID, requested: "nope", status: 404, errorType: "model_not_found"},
		{name: "stream cut after the 200", id: cutResp.Header.Get("X-Request-Id"), requested: "sim-cut", served: "sim-cut", chanel: "sim", stream: true, status: 200, errorType: "upstream_network"},
		{name: "no key", id: unauthID, status: 401, errorType: "invalid_api_key", noKey: true},
		{name: "wrong method", id: wrongMethod.Header.Get("X-Request-Id"), status: 405, errorType: "method_not_allowed", noKey: true, endpoint: "/v1/embeddings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rowByID(t, rows, tt.id)
			switch {
			case tt.noKey && (r.KeyID != "" || r.KeyMasked != ""):
				t.Errorf("key = %q %q, want none before authentication", r.KeyID, r.KeyMasked)
			case !tt.noKey && (r.KeyMasked != masked || r.KeyName != "log-test" || r.KeyID == ""):
				t.Errorf("key = %q %q %q, want %s", r.KeyID, r.KeyName, r.KeyMasked, masked)
			}
			if r.ModelRequested != tt.requested || r.ModelServed != tt.served || r.Channel != tt.chanel {
				t.Errorf("model %q served %q channel %q, want %q %q %q", r.ModelRequested, r.ModelServed, r.Channel, tt.requested, tt.served, tt.chanel)
			}
			if r.Stream != tt.stream || r.Status != tt.status || r.ErrorType != tt.errorType {
				t.Errorf("stream %v status %d error %q, want %v %d %q", r.Stream, r.Status, r.ErrorType, tt.stream, tt.status, tt.errorType)
			}
			if (tt.errorType == "") != (r.ErrorMessage == "") {
				t.Errorf("error message %q", r.ErrorMessage)
			}
			if tt.status == 200 && tt.errorType == "" && (r.PromptTokens <= 0 || r.CompletionTokens <= 0) {
				t.Errorf("tokens %d/%d, want both > 0", r.PromptTokens, r.CompletionTokens)
			}
			if r.TTFB <= 0 || r.Duration < r.TTFB {
				t.Errorf("ttfb %v duration %v, want 0 < ttfb <= duration", r.TTFB, r.Duration)
			}
			if tt.endpoint == "" {
				tt.endpoint = "/v1/chat/completions"
			}
			if r.Endpoint != tt.endpoint || r.ClientIP == "" || r.Time.IsZero() {
				t.Errorf("endpoint %q client %q time %v", r.Endpoint, r.ClientIP, r.Time)
			}
		})
	}
	t.Run("secret appears nowhere", func(t *testing.T) {
		for _, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), secret) || strings.Contains(string(b), secret[len(auth.SecretPrefix):]) {
				t.Errorf("row %s holds the secret", r.RequestID)
			}
		}
	})
}
