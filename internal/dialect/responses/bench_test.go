package responses

import "testing"

// BenchmarkStreamChunk measures translating one content chunk into its
// output_text.delta event, the per-event cost of a translated stream.
func BenchmarkStreamChunk(b *testing.B) {
	chunk := []byte(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"hello "},"finish_reason":null}],"usage":null}`)
	s := NewStream(testMeta)
	if _, err := s.Chunk(chunk); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Chunk(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
