package openaicompat

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/simupstream"
)

// TestConnectionsAreReused checks that requests one after another share
// one upstream connection: a stream read to its [DONE] and closed, or a
// stream closed early, must hand its connection back (or drop only that
// one), not dial per request.
func TestConnectionsAreReused(t *testing.T) {
	tests := []struct {
		name      string
		stream    bool
		readAll   bool
		wantConns int64
	}{
		{name: "non-stream", wantConns: 1},
		{name: "stream read to the end", stream: true, readAll: true, wantConns: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conns atomic.Int64
			srv := httptest.NewUnstartedServer(simupstream.New(simupstream.Options{}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			a := newAdapter(t, srv.URL, provider.Timeouts{})
			for range 5 {
				if err := drain(a, "sim-gpt", tt.stream); err != nil {
					t.Fatal(err)
				}
			}
			if got := conns.Load(); got != tt.wantConns {
				t.Fatalf("5 requests opened %d upstream connections, want %d", got, tt.wantConns)
			}
		})
	}
}

// TestStreamEndDrain pins what closing a stream does after its [DONE]: the
// end of the body that follows soon is read, so the connection serves the
// next request, with either client; an upstream that keeps the body open
// after [DONE] costs the close at most the drain bound, and its
// connection is dropped.
func TestStreamEndDrain(t *testing.T) {
	tests := []struct {
		name      string
		after     func(r *http.Request) // what the upstream does after [DONE]
		wantConns int64
	}{
		{name: "body ends a moment after [DONE]", after: func(*http.Request) { time.Sleep(2 * time.Millisecond) }, wantConns: 1},
		{name: "body stays open after [DONE]", after: func(r *http.Request) { <-r.Context().Done() }, wantConns: 3},
	}
	for _, tt := range tests {
		for _, stdlib := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, stdlib only %v", tt.name, stdlib), func(t *testing.T) {
				var conns atomic.Int64
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
					w.(http.Flusher).Flush()
					tt.after(r)
				}))
				srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						conns.Add(1)
					}
				}
				srv.Start()
				defer srv.Close()
				a, err := New(Options{Channel: "test", BaseURL: srv.URL,
					Client: &http.Client{Transport: provider.NewTransport(provider.TransportOptions{StdlibOnly: stdlib})}})
				if err != nil {
					t.Fatal(err)
				}
				for range 3 {
					start := time.Now()
					if err := drain(a, "m", true); err != nil {
						t.Fatal(err)
					}
					if d := time.Since(start); d > time.Second {
						t.Fatalf("a stream took %v to end and close", d)
					}
				}
				if got := conns.Load(); got != tt.wantConns {
					t.Errorf("3 streams opened %d upstream connections, want %d", got, tt.wantConns)
				}
			})
		}
	}
}
