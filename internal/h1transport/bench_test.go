package h1transport

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/cputime"
)

// BenchmarkRoundTrip compares this transport with net/http's on loopback:
// one request at a time, a small JSON answer and a 28-event stream, each
// body read to its end. It reports cpu-µs/op, the process's CPU time per
// request (client and server together; the server's share is the same for
// both), which is steadier than ns/op on a shared machine. Compare the
// sub-benchmarks with benchstat.
func BenchmarkRoundTrip(b *testing.B) {
	answer := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}`)
	event := []byte("data: " + strings.Repeat("x", 180) + "\n\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			for range 28 {
				w.Write(event)
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	defer srv.Close()
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	transports := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1transport", New(Options{})},
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}},
	}
	for _, path := range []string{"/plain", "/stream"} {
		for _, tr := range transports {
			b.Run(tr.name+path, func(b *testing.B) {
				b.ReportAllocs()
				buf := make([]byte, 32<<10)
				cpu0 := cputime.Process()
				for b.Loop() {
					req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					resp, err := tr.rt.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					for {
						if _, err := resp.Body.Read(buf); err != nil {
							break
						}
					}
					resp.Body.Close()
				}
				b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}
