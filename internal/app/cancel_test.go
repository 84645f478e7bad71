package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/simupstream"
)

// cancelBound is how soon after the client leaves the upstream request
// must be cancelled.
const cancelBound = 200 * time.Millisecond

// TestClientCancelCancelsUpstream checks that a client abandoning a stream
// cancels the upstream request promptly, over real TCP on both sides and
// with either client for plain-HTTP upstreams, and
// that the request is logged as 499 client_closed.
func TestClientCancelCancelsUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stream bool
		client string // upstream.plain_http_client
	}{
		{name: "stream", stream: true, client: "tollgate"},
		{name: "non-stream", client: "tollgate"},
		{name: "stream, net/http", stream: true, client: "net/http"},
		{name: "non-stream, net/http", client: "net/http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := simupstream.New(simupstream.Options{Default: simupstream.Profile{TokensPerSecond: 5, Length: 50}})
			if !tt.stream {
				sim.SetProfile("slow", simupstream.Profile{Fault: simupstream.Fault{Kind: simupstream.FaultNoResponse}})
			}
			started := make(chan struct{}, 1)
			canceledAt := make(chan time.Time, 1)
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Stopped when the handler returns, so only a cancellation
				// while it is still serving is recorded.
				stop := context.AfterFunc(r.Context(), func() { canceledAt <- time.Now() })
				defer stop()
				started <- struct{}{}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(upstream.Close)
			g := newGateway(t, fmt.Sprintf(`
database: {path: ":memory:"}
upstream: {plain_http_client: %s}
channels: [{name: up, provider: openai, base_url: %q}]
models: [{name: slow, routes: [{channel: up}]}]
`, tt.client, upstream.URL+"/v1"))

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			client := g.client()
			var cancelled time.Time
			if tt.stream {
				stream := client.Chat.Completions.NewStreaming(ctx, chatParams("slow", "take your time"))
				if !stream.Next() {
					t.Fatalf("no first chunk: %v", stream.Err())
				}
				cancelled = time.Now()
				cancel()
				for stream.Next() {
				}
				_ = stream.Close()
			} else {
				errc := make(chan error, 1)
				go func() {
					_, err := client.Chat.Completions.New(ctx, chatParams("slow", "take your time"))
					errc <- err
				}()
				<-started
				cancelled = time.Now()
				cancel()
				if err := <-errc; err == nil {
					t.Fatal("a cancelled request succeeded")
				}
			}
			select {
			case at := <-canceledAt:
				if d := at.Sub(cancelled); d > cancelBound {
					t.Errorf("upstream saw the cancellation %v after the client left, want within %v", d, cancelBound)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream request was never cancelled")
			}

			rows := g.requestLogs(t)
			if len(rows) != 1 || rows[0].Status != 499 || rows[0].ErrorType != "client_closed" {
				t.Errorf("log rows = %+v, want one 499 client_closed row", rows)
			}
		})
	}
}
