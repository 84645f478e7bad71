package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// geminiConfig drives simulator channels that speak the Gemini dialect, so
// every request runs through the gemini adapter's translation both ways.
// "gemini" is healthy; "gemini-429" is RESOURCE_EXHAUSTED once and then
// retried; "gemini-429-far" is always RESOURCE_EXHAUSTED on gem with a
// RetryInfo delay beyond the deadline and fails over to gem2;
// "gemini-day" has its per-day quota exhausted; "gemini-block" has every
// prompt blocked for SAFETY.
const geminiConfig = retryBase + `
  timeouts: {total: 5s}
channels:
  - name: gem
    provider: simulator
    dialect: gemini
    simulator:
      default: {length: 16}
      models:
        gemini-429:     {fault: {kind: status, status: 429, times: 1}}
        gemini-429-far: {fault: {kind: status, status: 429, retry_after: 60s}}
        gemini-day:     {fault: {kind: status, status: 429, code: insufficient_quota}}
        gemini-block:   {fault: {kind: status, status: 400, code: content_filter}}
  - name: gem2
    provider: simulator
    dialect: gemini
    simulator: {default: {length: 16}}
models:
  - {name: gemini,         routes: [{channel: gem}]}
  - {name: gemini-embed,   routes: [{channel: gem}]}
  - {name: gemini-429,     routes: [{channel: gem}]}
  - {name: gemini-429-far, routes: [{channel: gem}, {channel: gem2, priority: 1}]}
  - {name: gemini-day,     routes: [{channel: gem}]}
  - {name: gemini-block,   routes: [{channel: gem}]}
`

func TestGeminiChat(t *testing.T) {
	t.Parallel()
	g := newGateway(t, geminiConfig)
	prompt := "say something about gateways"
	params := chatParams("gemini", prompt)
	params.Messages = append([]openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief.")}, params.Messages...)
	params.MaxCompletionTokens = openai.Int(100)
	client := g.client()
	resp, err := client.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	want := g.sim(t, "gem").Answer("gemini", prompt, 0)
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != want || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("got %+v, want the simulator's answer %q", resp.Choices, want)
	}
	if resp.Usage.CompletionTokens != 16 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+16 || resp.Usage.PromptTokens == 0 {
		t.Errorf("usage %+v, want 16 completion tokens and a consistent total", resp.Usage)
	}
	sent := string(g.sim(t, "gem").LastRequest("gemini"))
	for _, part := range []string{`"systemInstruction":{"parts":[{"text":"Be brief."}]}`,
		`"contents":[{"role":"user","parts":[{"text":"say something about gateways"}]}]`, `"maxOutputTokens":100`} {
		if !strings.Contains(sent, part) {
			t.Errorf("upstream request %s lacks %s", sent, part)
		}
	}
}

func TestGeminiStream(t *testing.T) {
	t.Parallel()
	g := newGateway(t, geminiConfig)
	client := g.client()
	for _, includeUsage := range []bool{false, true} {
		prompt := "stream something please"
		params := chatParams("gemini", prompt)
		params.StreamOptions.IncludeUsage = openai.Bool(includeUsage)
		stream := client.Chat.Completions.NewStreaming(t.Context(), params)
		var acc openai.ChatCompletionAccumulator
		chunks, usageChunks := 0, 0
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			chunks++
			if len(c.Choices) == 0 {
				usageChunks++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		stream.Close()
		want := g.sim(t, "gem").Answer("gemini", prompt, 0)
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != want || acc.Choices[0].FinishReason != "stop" {
			t.Errorf("include_usage=%v: assembled %+v, want %q", includeUsage, acc.Choices, want)
		}
		if chunks < 16 {
			t.Errorf("include_usage=%v: %d chunks, want one per token at least", includeUsage, chunks)
		}
		if wantUsage := map[bool]int{false: 0, true: 1}[includeUsage]; usageChunks != wantUsage ||
			(includeUsage && acc.Usage.CompletionTokens != 16) {
			t.Errorf("include_usage=%v: %d usage chunks, usage %+v", includeUsage, usageChunks, acc.Usage)
		}
	}
}

func TestGeminiToolCalls(t *testing.T) {
	t.Parallel()
	g := newGateway(t, geminiConfig)
	prompt := "weather in Paris please"
	params := chatParams("gemini", prompt)
	params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:       "get_weather",
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}},
	})}
	client := g.client()
	resp, err := client.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Choices[0].Message
	const args = `{"query":"weather in Paris please"}`
	if resp.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "get_weather" ||
		msg.ToolCalls[0].Function.Arguments != args || !strings.HasPrefix(msg.ToolCalls[0].ID, "call_") {
		t.Fatalf("got %+v", resp.Choices[0])
	}

	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index != 0 || tc.ID == "" || tc.Function.Arguments != args {
					t.Errorf("tool-call delta %+v, want index 0, an id and the whole arguments", tc)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if len(acc.Choices) != 1 || acc.Choices[0].FinishReason != "tool_calls" || len(acc.Choices[0].Message.ToolCalls) != 1 ||
		acc.Choices[0].Message.ToolCalls[0].Function.Arguments != args {
		t.Errorf("accumulated %+v", acc.Choices)
	}

	// The result goes back as a functionResponse named after the call.
	follow := chatParams("gemini", prompt)
	follow.Messages = append(follow.Messages, msg.ToParam(), openai.ToolMessage("18C, sunny", msg.ToolCalls[0].ID))
	final, err := client.Chat.Completions.New(t.Context(), follow)
	if err != nil {
		t.Fatal(err)
	}
	if want := g.sim(t, "gem").Answer("gemini", prompt, 0); final.Choices[0].Message.Content != want {
		t.Errorf("final answer %q, want %q", final.Choices[0].Message.Content, want)
	}
	sent := string(g.sim(t, "gem").LastRequest("gemini"))
	if !strings.Contains(sent, `{"functionResponse":{"name":"get_weather","response":{"result":"18C, sunny"}}}`) ||
		!strings.Contains(sent, `"functionCall":{"name":"get_weather","args":{"query":"weather in Paris please"}}`) {
		t.Errorf("upstream request %s lacks the call and its result", sent)
	}
}

func TestGeminiEmbeddings(t *testing.T) {
	t.Parallel()
	g := newGateway(t, geminiConfig)
	client := g.client()
	inputs := []string{"first text to embed", "second one"}
	get := func(t *testing.T, format openai.EmbeddingNewParamsEncodingFormat) *openai.CreateEmbeddingResponse {
		t.Helper()
		resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "gemini-embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
			EncodingFormat: format, Dimensions: openai.Int(32),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != len(inputs) || resp.Model != "gemini-embed" {
			t.Fatalf("response = %s", resp.RawJSON())
		}
		return resp
	}
	ref := get(t, openai.EmbeddingNewParamsEncodingFormatFloat)
	b64 := get(t, openai.EmbeddingNewParamsEncodingFormatBase64)
	for i := range inputs {
		if raw := b64.Data[i].JSON.Embedding.Raw(); !strings.HasPrefix(raw, `"`) {
			t.Errorf("base64 embedding %d travelled as %.20s...", i, raw)
		}
		if raw := ref.Data[i].JSON.Embedding.Raw(); !strings.HasPrefix(raw, `[`) {
			t.Errorf("float embedding %d travelled as %.20s...", i, raw)
		}
		if len(ref.Data[i].Embedding) != 32 || !slices.Equal(float32s(b64.Data[i].Embedding), float32s(ref.Data[i].Embedding)) {
			t.Errorf("embedding %d: base64 %v, float %v", i, b64.Data[i].Embedding, ref.Data[i].Embedding)
		}
	}
	if sent := string(g.sim(t, "gem").LastRequest("gemini-embed")); !strings.Contains(sent, `"model":"models/gemini-embed"`) ||
		!strings.Contains(sent, `"outputDimensionality":32`) {
		t.Errorf("upstream request %s", sent)
	}
}

func TestGeminiErrors(t *testing.T) {
	t.Parallel()
	g := newGateway(t, geminiConfig)
	client := g.client()
	t.Run("RESOURCE_EXHAUSTED once is retried", func(t *testing.T) {
		prompt := "retry me"
		resp, err := client.Chat.Completions.New(t.Context(), chatParams("gemini-429", prompt))
		if err != nil {
			t.Fatal(err)
		}
		if want := g.sim(t, "gem").Answer("gemini-429", prompt, 0); resp.Choices[0].Message.Content != want {
			t.Errorf("content %q, want %q", resp.Choices[0].Message.Content, want)
		}
		if n := g.sim(t, "gem").Requests("gemini-429"); n != 2 {
			t.Errorf("upstream got %d requests, want 2", n)
		}
	})
	t.Run("RESOURCE_EXHAUSTED with a far RetryInfo fails over", func(t *testing.T) {
		var hr *http.Response
		resp, err := client.Chat.Completions.New(t.Context(), chatParams("gemini-429-far", "fail over"), option.WithResponseInto(&hr))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].FinishReason != "stop" || hr.Header.Get("X-Tollgate-Channel") != "gem2" {
			t.Errorf("served by %q: %+v", hr.Header.Get("X-Tollgate-Channel"), resp.Choices)
		}
	})
	t.Run("per-day quota is insufficient_quota", func(t *testing.T) {
		_, err := client.Chat.Completions.New(t.Context(), chatParams("gemini-day", "quota"))
		apiErr := wantError(t, err, http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota")
		if apiErr.Response.Header.Get("x-should-retry") != "false" {
			t.Error("no x-should-retry: false")
		}
	})
	t.Run("safety block is a content filter error", func(t *testing.T) {
		_, err := client.Chat.Completions.New(t.Context(), chatParams("gemini-block", "something unsafe"))
		apiErr := wantError(t, err, http.StatusBadRequest, "invalid_request_error", "content_filter")
		if !strings.Contains(apiErr.Message, "SAFETY") {
			t.Errorf("message %q does not name the block reason", apiErr.Message)
		}
	})
	t.Run("safety block in a stream is a content filter error", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(t.Context(), chatParams("gemini-block", "something unsafe"))
		for stream.Next() {
			t.Errorf("chunk %s before the error", stream.Current().RawJSON())
		}
		wantError(t, stream.Err(), http.StatusBadRequest, "invalid_request_error", "content_filter")
		stream.Close()
	})
}
