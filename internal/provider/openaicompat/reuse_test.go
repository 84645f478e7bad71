package openaicompat

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

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
