package openai

import "testing"

func TestFinishReason(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"stream chunk", `{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, "stop"},
		{"null then value", `{"choices":[{"finish_reason":null},{"finish_reason":"length"}]}`, "length"},
		{"spaces around colon", `{"choices":[{"finish_reason" : "tool_calls"}]}`, "tool_calls"},
		{"empty string skipped", `{"choices":[{"finish_reason":""},{"finish_reason":"content_filter"}]}`, "content_filter"},
		{"no key", `{"choices":[{"delta":{"content":"hi"}}]}`, ""},
		{"key inside content is escaped", `{"choices":[{"delta":{"content":"say \"finish_reason\": \"x\""},"finish_reason":null}]}`, ""},
		{"cut at escape", `{"finish_reason":"st\"op"}`, "st"},
		{"truncated", `{"finish_reason":"sto`, ""},
		{"long value clipped", `{"finish_reason":"` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"}`,
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FinishReason([]byte(tt.data)); got != tt.want {
				t.Errorf("FinishReason(%s) = %q, want %q", tt.data, got, tt.want)
			}
		})
	}
}

func FuzzFinishReason(f *testing.F) {
	f.Add([]byte(`{"choices":[{"finish_reason":"stop"}]}`))
	f.Add([]byte(`{"finish_reason" :`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got := FinishReason(data); len(got) > maxFinishReason {
			t.Fatalf("FinishReason returned %d bytes", len(got))
		}
	})
}
