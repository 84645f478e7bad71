package gemini

import (
	"testing"
)

// BenchmarkStreamTranslate measures translating one typical Gemini stream
// event (a text part with usage) into its OpenAI chunk.
func BenchmarkStreamTranslate(b *testing.B) {
	event := []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":" the quick brown fox"}]},"index":0}],` +
		`"usageMetadata":{"promptTokenCount":12,"totalTokenCount":12},"modelVersion":"gemini-2.5-flash","responseId":"abc123"}`)
	tr := newTranslator("gemini-2.5-flash", realIDs())
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.event(event); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamTranslateToolCall measures an event carrying a whole
// function call.
func BenchmarkStreamTranslateToolCall(b *testing.B) {
	event := []byte(`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris","unit":"C"}}}]},"finishReason":"STOP","index":0}]}`)
	tr := newTranslator("gemini-2.5-flash", realIDs())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.event(event); err != nil {
			b.Fatal(err)
		}
	}
}
