package app_test

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// anthropicConfig drives simulator channels that speak the Anthropic
// dialect, so every request runs through the anthropic adapter's
// translation both ways. "claude" is healthy; "claude-429" is rate
// limited once on channel ant and then fails over or retries; "claude-cut"
// is cut after 4 tokens once and continued on the same channel;
// "claude-cut-always" is cut on every attempt with nowhere else to go.
const anthropicConfig = retryBase + `
  timeouts: {total: 5s}
channels:
  - name: ant
    provider: simulator
    dialect: anthropic
    simulator:
      default: {length: 16}
      models:
        claude-429:        {fault: {kind: status, status: 429, retry_after: 1ms, times: 1}}
        claude-529:        {fault: {kind: status, status: 529}}
        claude-cut:        {fault: {kind: cut, after: 4, times: 1}}
        claude-cut-always: {fault: {kind: cut, after: 4}}
  - name: ant2
    provider: simulator
    dialect: anthropic
    simulator: {default: {length: 16}}
models:
  - {name: claude,            routes: [{channel: ant}]}
  - {name: claude-429,        routes: [{channel: ant}]}
  - {name: claude-529,        routes: [{channel: ant}, {channel: ant2, priority: 1}]}
  - {name: claude-cut,        routes: [{channel: ant}]}
  - {name: claude-cut-always, routes: [{channel: ant}]}
`

func TestAnthropicChat(t *testing.T) {
	t.Parallel()
	g := newGateway(t, anthropicConfig)
	prompt := "say something about gateways"
	client := g.client()
	resp, err := client.Chat.Completions.New(t.Context(), chatParams("claude", prompt))
	if err != nil {
		t.Fatal(err)
	}
	want := g.sim(t, "ant").Answer("claude", prompt, 0)
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != want || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("got %+v, want the simulator's answer %q", resp.Choices, want)
	}
	if resp.Usage.CompletionTokens != 16 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+16 {
		t.Errorf("usage %+v, want 16 completion tokens and a consistent total", resp.Usage)
	}
	sent := string(g.sim(t, "ant").LastRequest("claude"))
	if !strings.Contains(sent, `"max_tokens":4096`) || !strings.Contains(sent, `"messages":[{"role":"user","content":"say something about gateways"}]`) {
		t.Errorf("the simulator received %s, want a Messages API request with the default max_tokens", sent)
	}
}

func TestAnthropicStream(t *testing.T) {
	t.Parallel()
	g := newGateway(t, anthropicConfig)
	prompt := "stream about quiet channels"
	got := sdkStream(t, g, chatParams("claude", prompt))
	if want := g.sim(t, "ant").Answer("claude", prompt, 0); got.err != nil || got.text != want {
		t.Fatalf("SDK assembled %q, %v; want %q", got.text, got.err, want)
	}
	for _, usage := range []bool{false, true} {
		extra := `"stream":true`
		if usage {
			extra += `,"stream_options":{"include_usage":true}`
		}
		r := rawStream(t, g, chatBody("claude", prompt, extra))
		if !r.done || r.roles != 1 || r.text != g.sim(t, "ant").Answer("claude", prompt, 0) {
			t.Errorf("include_usage=%v: done %v, roles %d, text %q", usage, r.done, r.roles, r.text)
		}
		if usage != (r.usage != nil) {
			t.Errorf("include_usage=%v but usage chunk %+v", usage, r.usage)
		}
		if ids := chunkIDs(t, r.events); len(ids) != 1 {
			t.Errorf("chunk ids %v, want one", ids)
		}
	}
}

func TestAnthropicToolCalls(t *testing.T) {
	t.Parallel()
	g := newGateway(t, anthropicConfig)
	params := chatParams("claude", "weather in Paris please")
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
	if resp.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "get_weather" ||
		msg.ToolCalls[0].Function.Arguments != `{"query":"weather in Paris please"}` || !strings.HasPrefix(msg.ToolCalls[0].ID, "toolu_") {
		t.Fatalf("got %+v", resp.Choices[0])
	}

	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	headers := 0
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index != 0 {
					t.Errorf("tool call index %d, want 0", tc.Index)
				}
				if tc.ID != "" {
					headers++
					if tc.Function.Name != "get_weather" || tc.Function.Arguments != "" {
						t.Errorf("header delta %+v, want name and empty arguments", tc)
					}
				} else if tc.Function.Name != "" {
					t.Errorf("argument delta repeats the name: %+v", tc)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if headers != 1 || len(acc.Choices) != 1 || acc.Choices[0].FinishReason != "tool_calls" ||
		acc.Choices[0].Message.ToolCalls[0].Function.Arguments != `{"query":"weather in Paris please"}` {
		t.Errorf("headers %d, accumulated %+v", headers, acc.Choices)
	}
}

func TestAnthropicRetries(t *testing.T) {
	t.Parallel()
	g := newGateway(t, anthropicConfig)
	client := g.client()
	for _, model := range []string{"claude-429", "claude-529"} {
		resp, err := client.Chat.Completions.New(t.Context(), chatParams(model, "retry me"))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if resp.Choices[0].Message.Content == "" {
			t.Errorf("%s: empty answer", model)
		}
	}
	if n := g.sim(t, "ant").Requests("claude-429"); n != 2 {
		t.Errorf("claude-429 reached channel ant %d times, want 2 (the 429, then the retry)", n)
	}
	if n := g.sim(t, "ant2").Requests("claude-529"); n != 1 {
		t.Errorf("claude-529 reached channel ant2 %d times, want 1 (failover after the 529)", n)
	}
}

func TestAnthropicStreamCut(t *testing.T) {
	t.Parallel()
	g := newGateway(t, anthropicConfig)
	prompt := "cut this stream"
	got := sdkStream(t, g, chatParams("claude-cut", prompt))
	if want := g.sim(t, "ant").Answer("claude-cut", prompt, 0); got.err != nil || got.text != want {
		t.Fatalf("SDK assembled %q, %v; want the continued answer %q", got.text, got.err, want)
	}
	// With no channel left, the cut is reported in-band, never as success.
	r := rawStream(t, g, chatBody("claude-cut-always", prompt, `"stream":true`))
	if r.done || r.errEvent == "" {
		t.Errorf("done %v, error event %q: want an error event and no [DONE]", r.done, r.errEvent)
	}
	if got = sdkStream(t, g, chatParams("claude-cut-always", prompt)); got.err == nil {
		t.Errorf("the SDK saw %q and no error; want the cut reported", got.text)
	}
}
