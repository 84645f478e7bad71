package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchRequest is a typical successful chat request.
var benchRequest = Request{
	Endpoint: EndpointChat, Model: "gpt-4o-mini", Channel: "openai-eu", Stream: true, Status: 200,
	Duration: 1200 * time.Millisecond, TTFB: 180 * time.Millisecond, Overhead: 90 * time.Microsecond,
	Attempts: 1, PromptTokens: 420, CompletionTokens: 180,
}

func BenchmarkRequestFinished(b *testing.B) {
	cases := []struct {
		name     string
		attempts []Attempt
	}{
		{"one attempt", []Attempt{{Channel: "openai-eu"}}},
		{"retry and failover", []Attempt{
			{Channel: "openai-us", Class: "timeout", Phase: PhaseFirstToken},
			{Channel: "openai-us", Class: "server_error", Retry: true},
			{Channel: "openai-eu"},
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			m := New(prometheus.NewRegistry(), Options{})
			b.ReportAllocs()
			for b.Loop() {
				m.RequestFinished(benchRequest, tc.attempts)
			}
		})
		b.Run(tc.name+" parallel", func(b *testing.B) {
			m := New(prometheus.NewRegistry(), Options{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.RequestFinished(benchRequest, tc.attempts)
				}
			})
		})
	}
}

// BenchmarkRequestCounterLookup compares the cached lookup of the
// requests_total series with a lookup through the vector each time.
func BenchmarkRequestCounterLookup(b *testing.B) {
	m := New(nil, Options{})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.requestChildren.get(requestKey{endpoint: 0, model: "gpt-4o-mini", channel: "openai-eu", status: 200, errorType: "none"}).Inc()
		}
	})
	b.Run("WithLabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.requests.WithLabelValues("chat", "gpt-4o-mini", "openai-eu", statusLabel(200), "none").Inc()
		}
	})
}
