package jsonpeek

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// chatRequest returns a realistic streaming chat request of about size bytes.
func chatRequest(size int) string {
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4o-mini","messages":[`)
	b.WriteString(`{"role":"system","content":"You are a careful assistant. Answer briefly and cite the documents you use."}`)
	for turn := 0; b.Len() < size-400; turn++ {
		role := "user"
		if turn%2 == 1 {
			role = "assistant"
		}
		text := strings.Repeat("Please summarise the attached quarterly figures, with \"units\" kept. ", 4)
		fmt.Fprintf(&b, `,{"role":%q,"content":%q}`, role, text)
	}
	b.WriteString(`],"temperature":0.2,"top_p":1,"max_tokens":512,"stream":true,`)
	b.WriteString(`"stream_options":{"include_usage":false},"user":"user-1234",`)
	b.WriteString(`"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}]}`)
	return b.String()
}

// peekAndPatch does what the gateway does to a request body: read the model,
// replace it, and force stream_options.include_usage.
func peekAndPatch(body []byte) ([]byte, error) {
	o, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if _, _, err := o.String("model"); err != nil {
		return nil, err
	}
	opts := []byte("{}")
	if raw, ok := o.Raw("stream_options"); ok && raw[0] == '{' {
		opts = raw
	}
	inner, err := Parse(opts)
	if err != nil {
		return nil, err
	}
	opts = inner.Patch(Edit{Key: "include_usage", Value: []byte("true")})
	return o.Patch(Edit{Key: "model", Value: []byte(`"upstream-model"`)}, Edit{Key: "stream_options", Value: opts}), nil
}

func BenchmarkPeekAndPatch(b *testing.B) {
	body := []byte(chatRequest(4 << 10))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := peekAndPatch(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFullDecodeReencode is the approach jsonpeek avoids, for
// comparison with BenchmarkPeekAndPatch.
func BenchmarkFullDecodeReencode(b *testing.B) {
	body := []byte(chatRequest(4 << 10))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
		if _, ok := m["model"].(string); !ok {
			b.Fatal("no model")
		}
		m["model"] = "upstream-model"
		opts, _ := m["stream_options"].(map[string]any)
		if opts == nil {
			opts = map[string]any{}
		}
		opts["include_usage"] = true
		m["stream_options"] = opts
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	body := []byte(chatRequest(4 << 10))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// streamChunks are realistic chat.completion.chunk payloads, one SSE data
// line each, as the gateway's stream relay parses them: a content delta (the
// bulk of a stream) and the final chunk that carries usage.
var streamChunks = []struct {
	name string
	body string
}{
	{"delta", `{"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1731000000,` +
		`"model":"sim-gpt","system_fingerprint":"fp_sim","choices":[{"index":0,"delta":{"content":" token"},` +
		`"logprobs":null,"finish_reason":null}],"usage":null}`},
	{"usage", `{"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1731000000,` +
		`"model":"sim-gpt","system_fingerprint":"fp_sim","choices":[],` +
		`"usage":{"prompt_tokens":1234,"completion_tokens":567,"total_tokens":1801,` +
		`"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},` +
		`"completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0,` +
		`"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`},
}

// BenchmarkParseIntoStreamChunk measures ParseInto on one stream chunk with
// a reused Object, which is how the relay calls it for every SSE event.
func BenchmarkParseIntoStreamChunk(b *testing.B) {
	for _, c := range streamChunks {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			var o Object
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ParseInto(&o, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
