package openai

import (
	"encoding/json"
	"reflect"
	"testing"
)

// roundTrip decodes in into a T, encodes it again and fails unless the two
// documents are equal as JSON values.
func roundTrip[T any](t *testing.T, in string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var want, got any
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatalf("test input is not JSON: %v", err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the document\n got: %s\nwant: %s", out, in)
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		run  func(t *testing.T, in string)
	}{
		{"chat request with parts and tools", `{"model":"gpt-4o","messages":[
			{"role":"system","content":"Be brief."},
			{"role":"user","content":[{"type":"text","text":"Describe"},{"type":"text","text":"this"}]},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"call_abc","content":"18C, sunny"}],
			"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":100,"max_tokens":50,
			"temperature":0.7,"top_p":0.9,"n":1,"stop":["END","STOP"],
			"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}}],
			"tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,"user":"u1"}`,
			func(t *testing.T, in string) { roundTrip[ChatCompletionRequest](t, in) }},
		{"chat response", `{"id":"chatcmpl-1","object":"chat.completion","created":1741569952,"model":"gpt-4o","service_tier":"default",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
			"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
			func(t *testing.T, in string) { roundTrip[ChatCompletion](t, in) }},
		{"chat response with tool calls", `{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]}`,
			func(t *testing.T, in string) { roundTrip[ChatCompletion](t, in) }},
		{"chunk with usage null", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}`,
			func(t *testing.T, in string) {
				if c := roundTrip[ChatCompletionChunk](t, in); !c.IncludeUsageNull {
					t.Error("IncludeUsageNull = false, want true")
				}
			}},
		{"chunk without usage", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
			func(t *testing.T, in string) {
				if c := roundTrip[ChatCompletionChunk](t, in); c.IncludeUsageNull {
					t.Error("IncludeUsageNull = true, want false")
				}
			}},
		{"usage chunk", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`,
			func(t *testing.T, in string) { roundTrip[ChatCompletionChunk](t, in) }},
		{"tool call header delta", `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
			func(t *testing.T, in string) { roundTrip[ChatCompletionChunk](t, in) }},
		{"tool call fragment delta", `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}]}`,
			func(t *testing.T, in string) { roundTrip[ChatCompletionChunk](t, in) }},
		{"completion request", `{"model":"gpt-3.5-turbo-instruct","prompt":["a","b"],"suffix":"x","max_tokens":16,"temperature":0,"n":1,"stop":"\n","echo":true,"logprobs":2,"stream":true,"stream_options":{"include_usage":true},"user":"u"}`,
			func(t *testing.T, in string) { roundTrip[CompletionRequest](t, in) }},
		{"completion response", `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
			func(t *testing.T, in string) { roundTrip[Completion](t, in) }},
		{"completion chunk", `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"text":" Hi","index":0,"logprobs":null,"finish_reason":null}],"usage":null}`,
			func(t *testing.T, in string) { roundTrip[CompletionChunk](t, in) }},
		{"embedding request", `{"input":[[1,2],[3]],"model":"text-embedding-3-small","encoding_format":"base64","dimensions":8,"user":"u"}`,
			func(t *testing.T, in string) { roundTrip[EmbeddingRequest](t, in) }},
		{"embedding response", `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.01,-0.5]},{"object":"embedding","index":1,"embedding":"AACAPw=="}],"model":"m","usage":{"prompt_tokens":8,"total_tokens":8}}`,
			func(t *testing.T, in string) { roundTrip[EmbeddingResponse](t, in) }},
		{"model list", `{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1686935002,"owned_by":"openai"}]}`,
			func(t *testing.T, in string) { roundTrip[ModelList](t, in) }},
		{"error", `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			func(t *testing.T, in string) { roundTrip[ErrorResponse](t, in) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, tt.in)
		})
	}
}
