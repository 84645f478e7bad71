package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/tollgate/tollgate/internal/simupstream"
)

// recorder is an Anthropic upstream over HTTP: a simulator whose answers
// are copied as they are sent, so a test can compare what the client got
// with the upstream's exact bytes.
type recorder struct {
	sim *simupstream.Simulator
	mu  sync.Mutex
	out bytes.Buffer
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.out.Reset()
	rc.mu.Unlock()
	rc.sim.ServeHTTP(&teeWriter{ResponseWriter: w, rc: rc}, r)
}

func (rc *recorder) sent() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.out.String()
}

type teeWriter struct {
	http.ResponseWriter
	rc *recorder
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.rc.mu.Lock()
	t.rc.out.Write(p)
	t.rc.mu.Unlock()
	return t.ResponseWriter.Write(p)
}

func (t *teeWriter) Flush() { http.NewResponseController(t.ResponseWriter).Flush() }

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// cannedBody and cannedStream are fixed Messages API bytes that report cache
// tokens: the non-stream body, or the stream.
const (
	cannedBody   = `{"id":"msg_canned","type":"message","role":"assistant","model":"claude-canned","content":[{"type":"text","text":"Hello there"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":7}}`
	cannedStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_canned\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-canned\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":20,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: ping\ndata: {\"type\": \"ping\"}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
)

// passthroughGateway serves models that route only to Anthropic channels
// (passed through) and one that also routes to an OpenAI-dialect channel
// (translated).
func passthroughGateway(t *testing.T) (*gateway, *recorder) {
	t.Helper()
	rc, recURL, cannedURL := passthroughUpstreams(t, "POST /v1/messages", cannedBody, cannedStream)
	g := newGateway(t, retryBase+fmt.Sprintf(`
  timeouts: {total: 5s}
prices:
  canned:     {input: "1", output: "2"}
  claude-cut: {input: "1", output: "2"}
channels:
  - name: ant
    provider: simulator
    dialect: anthropic
    simulator:
      default: {length: 16}
      models:
        claude-429:    {fault: {kind: status, status: 429, retry_after: 1ms, times: 1}}
        claude-529:    {fault: {kind: status, status: 529}}
        claude-cut:    {fault: {kind: cut, after: 4}}
        claude-nostop: {fault: {kind: no_done}}
  - name: ant2
    provider: simulator
    dialect: anthropic
    simulator: {default: {length: 16}}
  - name: oai
    provider: simulator
  - name: recorded
    provider: anthropic
    base_url: %s
    api_key: upstream-secret
  - name: canned
    provider: anthropic
    base_url: %s
    api_key: upstream-secret
models:
  - {name: claude,        routes: [{channel: ant, model: claude-up}]}
  - {name: claude-429,    routes: [{channel: ant}]}
  - {name: claude-529,    routes: [{channel: ant}, {channel: ant2, priority: 1}]}
  - {name: claude-cut,    routes: [{channel: ant}]}
  - {name: claude-nostop, routes: [{channel: ant}]}
  - {name: recorded,      routes: [{channel: recorded, model: claude-rec}]}
  - {name: canned,        routes: [{channel: canned}]}
  - {name: mixed,         routes: [{channel: ant}, {channel: oai, priority: 1}]}
`, recURL, cannedURL))
	return g, rc
}

// messagesBody is a raw Messages request with spacing and fields a
// translation would not keep as they are.
func messagesBody(model, prompt, extra string) string {
	return `{"model": "` + model + `",  "max_tokens": 256, "metadata": {"user_id": "u-1"},` + extra +
		` "messages": [{"role": "user", "content": [{"type": "text", "text": "` + prompt + `"}]}], "top_k": 5}`
}

func (g *gateway) postMessages(t *testing.T, body string) (*http.Response, []byte) {
	t.Helper()
	return g.do(t, http.MethodPost, "/v1/messages", body, http.Header{"Anthropic-Version": {"2023-06-01"}})
}

func TestMessagesPassthroughRequestUnchanged(t *testing.T) {
	t.Parallel()
	g, _ := passthroughGateway(t)
	for _, stream := range []bool{false, true} {
		extra := ""
		if stream {
			extra = ` "stream": true,`
		}
		body := messagesBody("claude", "tell me about tolls", extra)
		resp, got := g.postMessages(t, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream=%v: status %d: %s", stream, resp.StatusCode, got)
		}
		want := strings.Replace(body, `"model": "claude"`, `"model": "claude-up"`, 1)
		if sent := string(g.sim(t, "ant").LastRequest("claude-up")); sent != want {
			t.Errorf("stream=%v: the upstream received\n%s\nwant the client's body with only the model changed\n%s", stream, sent, want)
		}
	}
	// A route that may reach an OpenAI-dialect channel is translated.
	body := messagesBody("mixed", "tell me about tolls", "")
	if resp, got := g.postMessages(t, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("mixed: status %d: %s", resp.StatusCode, got)
	}
	if sent := string(g.sim(t, "ant").LastRequest("mixed")); sent == "" || sent == body {
		t.Errorf("mixed route: the upstream received %q, want a translated request", sent)
	}
}

func TestMessagesPassthroughAnswerUnchanged(t *testing.T) {
	t.Parallel()
	g, rc := passthroughGateway(t)
	for _, stream := range []bool{false, true} {
		extra := ""
		if stream {
			extra = ` "stream": true,`
		}
		resp, got := g.postMessages(t, messagesBody("recorded", "a story of bridges", extra))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream=%v: status %d: %s", stream, resp.StatusCode, got)
		}
		if sent := rc.sent(); string(got) != sent || sent == "" {
			t.Errorf("stream=%v: the client got\n%s\nwant the upstream's bytes\n%s", stream, got, sent)
		}
		if stream && !strings.Contains(string(got), "event: content_block_delta") {
			t.Errorf("the stream has no deltas: %s", got)
		}
	}
}

func TestMessagesPassthroughUsage(t *testing.T) {
	t.Parallel()
	g, _ := passthroughGateway(t)
	ids := map[bool]string{}
	for _, stream := range []bool{false, true} {
		extra := ""
		want := cannedBody
		if stream {
			extra, want = ` "stream": true,`, cannedStream
		}
		resp, got := g.postMessages(t, messagesBody("canned", "hi", extra))
		if resp.StatusCode != http.StatusOK || string(got) != want {
			t.Fatalf("stream=%v: status %d, body\n%s\nwant\n%s", stream, resp.StatusCode, got, want)
		}
		ids[stream] = resp.Header.Get("X-Request-Id")
	}
	checkCannedRows(t, g.requestLogs(t), ids, cannedRow{prompt: 35, cached: 20, completion: 7, total: 42, finish: "length", served: "claude-canned"})
}

func TestMessagesPassthroughRetries(t *testing.T) {
	t.Parallel()
	g, _ := passthroughGateway(t)
	for _, tt := range []struct {
		model, channel string
		attempts       string
	}{
		{"claude-429", "ant", "2"}, // Retry-After honoured, same channel
		{"claude-529", "ant2", "2"},
	} {
		for _, stream := range []bool{false, true} {
			extra := ""
			if stream {
				extra = ` "stream": true,`
			}
			g.sim(t, "ant").Reset()
			resp, got := g.postMessages(t, messagesBody(tt.model, "retry me", extra))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s stream=%v: status %d: %s", tt.model, stream, resp.StatusCode, got)
			}
			if ch, n := resp.Header.Get("X-Tollgate-Channel"), resp.Header.Get("X-Tollgate-Attempts"); ch != tt.channel || n != tt.attempts {
				t.Errorf("%s stream=%v: channel %q attempts %q, want %q %q", tt.model, stream, ch, n, tt.channel, tt.attempts)
			}
			if stream && (strings.Count(string(got), "event: message_start") != 1 || !strings.HasSuffix(string(got), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
				t.Errorf("%s: the retried stream is not one complete message:\n%s", tt.model, got)
			}
		}
	}
}

func TestMessagesPassthroughBrokenStream(t *testing.T) {
	t.Parallel()
	g, _ := passthroughGateway(t)
	ids := map[string]string{}
	for _, model := range []string{"claude-cut", "claude-nostop"} {
		resp, got := g.postMessages(t, messagesBody(model, "break me", ` "stream": true,`))
		ids[model] = resp.Header.Get("X-Request-Id")
		s := string(got)
		if resp.StatusCode != http.StatusOK || !strings.Contains(s, "event: content_block_delta") {
			t.Fatalf("%s: status %d, want a started stream: %s", model, resp.StatusCode, s)
		}
		if strings.Contains(s, "event: message_stop") || !strings.Contains(s, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"") {
			t.Errorf("%s: want an api_error event and no message_stop, got\n%s", model, s)
		}
	}
	checkTruncatedRows(t, g.requestLogs(t), ids)
}

func TestMessagesPassthroughSDK(t *testing.T) {
	t.Parallel()
	g, _ := passthroughGateway(t)
	client := g.anthropicClient()
	prompt := "stream a story about ferries"
	stream := client.Messages.NewStreaming(t.Context(), messageParams("claude", prompt))
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := g.sim(t, "ant").Answer("claude-up", prompt, 0)
	if len(acc.Content) != 1 || acc.Content[0].Text != want || acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens != 16 {
		t.Fatalf("assembled %+v (stop %q, usage %+v), want the simulator's %q", acc.Content, acc.StopReason, acc.Usage, want)
	}
	if acc.Model != "claude-up" {
		t.Errorf("model %q, want the upstream's claude-up, passed through", acc.Model)
	}
	cut := client.Messages.NewStreaming(t.Context(), messageParams("claude-cut", prompt))
	for cut.Next() {
	}
	if cut.Err() == nil {
		t.Error("a cut stream ended without an error in the SDK")
	}
}

func TestMessagesPassthroughKeepAlive(t *testing.T) {
	t.Parallel()
	g := newGateway(t, resilienceBase+`
upstream:
  keepalive_interval: 20ms
channels:
  - name: ant
    provider: simulator
    dialect: anthropic
    simulator:
      default: {length: 4, first_token_delay: 150ms}
models:
  - {name: claude-slow, routes: [{channel: ant}]}
`)
	resp, got := g.postMessages(t, messagesBody("claude-slow", "wait for it", ` "stream": true,`))
	s := string(got)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(s, "event: ping\ndata: {\"type\":\"ping\"}\n\n") {
		t.Fatalf("status %d, want ping events while the first token is awaited, got\n%s", resp.StatusCode, s)
	}
	rest := strings.ReplaceAll(s, "event: ping\ndata: {\"type\":\"ping\"}\n\n", "")
	if !strings.HasPrefix(rest, "event: message_start\n") || !strings.HasSuffix(rest, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") || strings.Contains(s, ": keep-alive") {
		t.Errorf("the stream around the pings is not one complete message:\n%s", s)
	}
}
