package sse

import (
	"io"
	"testing"
)

// chatChunk is a typical chat.completion.chunk payload of about 200 bytes.
const chatChunk = `{"id":"chatcmpl-9x2LkQ7mN4pR8sT1uV6wY3zA","object":"chat.completion.chunk",` +
	`"created":1767225600,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b",` +
	`"choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}`

func BenchmarkReaderChatChunks(b *testing.B) {
	stream := []byte("data: " + chatChunk + "\n\n")
	r := NewReader(&repeatReader{pattern: stream}, ReaderOptions{})
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// discardFlusher is io.Discard with a Flush method.
type discardFlusher struct{}

func (discardFlusher) Write(p []byte) (int, error) { return len(p), nil }
func (discardFlusher) Flush() error                { return nil }

var _ io.Writer = discardFlusher{}

func BenchmarkWriterData(b *testing.B) {
	w := NewWriter(discardFlusher{})
	data := []byte(chatChunk)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Data(data); err != nil {
			b.Fatal(err)
		}
	}
}
