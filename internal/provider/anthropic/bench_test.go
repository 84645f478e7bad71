package anthropic

import (
	"fmt"
	"testing"
)

// BenchmarkStreamTranslate measures the cost of translating one Anthropic
// text_delta event into an OpenAI chunk (ns/op and allocs/op are per event).
func BenchmarkStreamTranslate(b *testing.B) {
	var tr StreamTranslator
	start := []byte(`{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4","usage":{"input_tokens":25,"output_tokens":1}}}`)
	if _, _, err := tr.Event("message_start", start); err != nil {
		b.Fatal(err)
	}
	events := make([][]byte, 64)
	for i := range events {
		events[i] = fmt.Appendf(nil, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" token%d"}}`, i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := tr.Event("content_block_delta", events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
