package app_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/tollgate/tollgate/internal/simupstream"
)

// plainHTTPConfig routes models to an OpenAI-compatible channel over plain
// HTTP with short phase timeouts; %s is the client
// (upstream.plain_http_client) and %s the upstream's base URL.
const plainHTTPConfig = `
database: {path: ":memory:"}
upstream:
  plain_http_client: %s
  retry: {max_attempts: 1}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
channels:
  - {name: up, provider: openai, base_url: %q, timeouts: {response_header: 200ms, idle: 200ms}}
models:
  - {name: up-ok,    routes: [{channel: up}]}
  - {name: up-reset, routes: [{channel: up}]}
  - {name: up-cut,   routes: [{channel: up}]}
  - {name: up-stall, routes: [{channel: up}]}
  - {name: up-hang,  routes: [{channel: up}]}
`

// TestPlainHTTPClients runs the same traffic through both clients for
// http:// upstreams, tollgate's own HTTP/1.1 client and net/http, against
// the simulator over real TCP: answers arrive whole, healthy requests one
// after another share one upstream connection (streams included), and
// faults at the connection level end as the error the client should see.
func TestPlainHTTPClients(t *testing.T) {
	t.Parallel()
	for _, client := range []string{"tollgate", "net/http"} {
		t.Run(client, func(t *testing.T) {
			t.Parallel()
			sim := simupstream.New(simupstream.Options{
				Default: simupstream.Profile{Length: 12},
				Profiles: map[string]simupstream.Profile{
					"up-reset": {Fault: simupstream.Fault{Kind: simupstream.FaultReset}},
					"up-cut":   {Length: 12, Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 4}},
					"up-stall": {Length: 12, Fault: simupstream.Fault{Kind: simupstream.FaultStall, After: 3}},
					"up-hang":  {Fault: simupstream.Fault{Kind: simupstream.FaultNoResponse}},
				},
			})
			var conns atomic.Int64
			upstream := httptest.NewUnstartedServer(sim)
			upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			upstream.Start()
			t.Cleanup(upstream.Close)
			g := newGateway(t, fmt.Sprintf(plainHTTPConfig, client, upstream.URL+"/v1"))
			c := g.client()

			for i := range 6 {
				prompt := fmt.Sprintf("request %d", i)
				want := sim.Answer("up-ok", prompt, 0)
				got, err := chatOrStream(t, c, "up-ok", prompt, i%2 == 1)
				if err != nil || got != want {
					t.Fatalf("request %d (stream %v) = %q, %v; want %q", i, i%2 == 1, got, err, want)
				}
			}
			// tollgate's client pools a connection before the body read
			// returns io.EOF; net/http's read loop pools it a moment later,
			// so a request right after may dial a second one.
			maxConns := int64(1)
			if client == "net/http" {
				maxConns = 3
			}
			if n := conns.Load(); n > maxConns {
				t.Errorf("6 requests one after another opened %d upstream connections, want at most %d", n, maxConns)
			}

			faults := []struct {
				name, model string
				stream      bool
				status      int    // the HTTP error, or 0 for an in-band stream error
				has         string // in the error's message
			}{
				{name: "connection reset", model: "up-reset", status: 502, has: "channel up"},
				{name: "no response", model: "up-hang", status: 504, has: "response header"},
				{name: "stream cut mid-answer", model: "up-cut", stream: true, has: "interrupted"},
				{name: "stream stalls", model: "up-stall", stream: true, has: "idle"},
			}
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					_, err := chatOrStream(t, c, f.model, "fault "+f.name, f.stream)
					if f.status != 0 {
						var ae *openai.Error
						if !errors.As(err, &ae) || ae.StatusCode != f.status || !strings.Contains(ae.Message, f.has) {
							t.Fatalf("error %v, want %d with %q", err, f.status, f.has)
						}
						return
					}
					var se *ssestream.StreamError
					if !errors.As(err, &se) || !strings.Contains(se.Message, f.has) {
						t.Fatalf("stream error %v, want an in-band error with %q", err, f.has)
					}
				})
			}
			// After the faults, a healthy request still gets through.
			if got, err := chatOrStream(t, c, "up-ok", "after", true); err != nil || got != sim.Answer("up-ok", "after", 0) {
				t.Errorf("after the faults: %q, %v", got, err)
			}
		})
	}
}

// chatOrStream asks model with prompt through the SDK and returns the
// answer's content.
func chatOrStream(t *testing.T, c openai.Client, model, prompt string, stream bool) (string, error) {
	t.Helper()
	if !stream {
		resp, err := c.Chat.Completions.New(t.Context(), chatParams(model, prompt))
		if err != nil {
			return "", err
		}
		return resp.Choices[0].Message.Content, nil
	}
	s := c.Chat.Completions.NewStreaming(t.Context(), chatParams(model, prompt))
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	if len(acc.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return acc.Choices[0].Message.Content, nil
}
