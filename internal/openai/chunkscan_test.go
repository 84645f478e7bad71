package openai

import "testing"

func TestScanChunk(t *testing.T) {
	tests := []struct {
		name string
		data string
		want ChunkFacts
	}{
		{"role only", `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, ChunkFacts{}},
		{"text", `{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`, ChunkFacts{Content: true}},
		{"spaced", `{"choices": [{"delta": {"content" : "Hi"}, "finish_reason" : "stop"}]}`, ChunkFacts{Content: true, Finished: true}},
		{"null content", `{"choices":[{"delta":{"content":null}}]}`, ChunkFacts{}},
		{"tool call", `{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]}}]}`, ChunkFacts{Content: true}},
		{"refusal", `{"choices":[{"delta":{"refusal":"no"}}]}`, ChunkFacts{Content: true}},
		{"legacy text", `{"object":"text_completion","choices":[{"text":" a","index":0,"finish_reason":null}]}`, ChunkFacts{Content: true}},
		{"finish only", `{"choices":[{"delta":{},"finish_reason":"length"}]}`, ChunkFacts{Finished: true}},
		{"key inside a string is not a key", `{"choices":[{"delta":{"content":""},"x":"\"finish_reason\":\"stop\""}]}`, ChunkFacts{}},
		{"usage chunk", `{"choices":[],"usage":{"prompt_tokens":1}}`, ChunkFacts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScanChunk([]byte(tt.data)); got != tt.want {
				t.Fatalf("ScanChunk = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzScanChunk(f *testing.F) {
	f.Add([]byte(`{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]}`))
	f.Add([]byte(`"content":`))
	f.Add([]byte(`"finish_reason"  :  "`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ScanChunk(data) // must not panic on any input
	})
}

func TestScanChunkFinished(t *testing.T) {
	tests := []struct {
		name    string
		choices string
		want    bool
	}{
		{name: "empty array", choices: `[]`},
		{name: "null finish reason", choices: `[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]`},
		{name: "stop", choices: `[{"index":0,"delta":{},"finish_reason":"stop"}]`, want: true},
		{name: "tool_calls", choices: `[{"index":0,"delta":{},"finish_reason":"tool_calls"}]`, want: true},
		{name: "spaces around the colon", choices: `[{"finish_reason" :  "length"}]`, want: true},
		{name: "newline after the colon", choices: "[{\"finish_reason\":\n\"stop\"}]", want: true},
		{name: "second choice finishes", choices: `[{"index":0,"finish_reason":null},{"index":1,"finish_reason":"stop"}]`, want: true},
		{name: "key only inside content", choices: `[{"delta":{"content":"the \"finish_reason\": \"stop\" field"},"finish_reason":null}]`},
		{name: "no finish_reason key", choices: `[{"index":0,"delta":{"content":"x"}}]`},
		{name: "finish reason is not a string", choices: `[{"finish_reason":1}]`},
		{name: "truncated after the key", choices: `[{"finish_reason"`},
		{name: "truncated after the colon", choices: `[{"finish_reason":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScanChunk([]byte(tt.choices)).Finished; got != tt.want {
				t.Errorf("ScanChunk(%s).Finished = %v, want %v", tt.choices, got, tt.want)
			}
		})
	}
}
