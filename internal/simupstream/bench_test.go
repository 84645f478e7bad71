package simupstream

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func benchmarkChat(b *testing.B, body string) {
	client := &http.Client{Transport: Transport(New(Options{}))}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post("http://sim.invalid/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

func BenchmarkChatNonStream(b *testing.B) {
	benchmarkChat(b, chatBody("m", "benchmark the simulated upstream", ""))
}

func BenchmarkChatStream(b *testing.B) {
	benchmarkChat(b, chatBody("m", "benchmark the simulated upstream", `"stream":true,"stream_options":{"include_usage":true}`))
}
