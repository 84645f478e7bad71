package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// cannedResponseBody and cannedResponseStream are fixed Responses API
// bytes that report cached tokens: the non-stream body, or the stream.
const (
	cannedResponseBody   = `{"id":"resp_canned","object":"response","created_at":1700000000,"status":"completed","model":"gpt-canned","output":[{"type":"message","id":"msg_canned","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello there","annotations":[]}]}],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":12},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":37}}`
	cannedResponseStream = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_canned\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-canned\",\"output\":[]}}\n\n" +
		"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_canned\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_canned\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello\"}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_canned\",\"output_index\":0,\"content_index\":0,\"delta\":\" there\"}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":" + cannedResponseBody + "}\n\n"
)

// responsesGateway serves models that route only to channels serving the
// Responses API (passed through) and one that also routes to a chat-only
// channel (translated).
func responsesGateway(t *testing.T) (*gateway, *recorder) {
	t.Helper()
	rc, recURL, cannedURL := passthroughUpstreams(t, "POST /v1/responses", cannedResponseBody, cannedResponseStream)
	g := newGateway(t, retryBase+fmt.Sprintf(`
  timeouts: {total: 5s}
prices:
  canned:  {input: "1", output: "2"}
  gpt-cut: {input: "1", output: "2"}
channels:
  - name: rsp
    provider: simulator
    responses: true
    simulator:
      default: {length: 16}
      models:
        gpt-429:    {fault: {kind: status, status: 429, retry_after: 1ms, times: 1}}
        gpt-cut:    {fault: {kind: cut, after: 4}}
        gpt-nodone: {fault: {kind: no_done}}
  - name: chatonly
    provider: simulator
  - name: recorded
    provider: openai
    base_url: %s/v1
    api_key: upstream-secret
    responses: true
  - name: canned
    provider: openai
    base_url: %s/v1
    api_key: upstream-secret
    responses: true
models:
  - {name: gpt,        routes: [{channel: rsp, model: gpt-up}]}
  - {name: gpt-429,    routes: [{channel: rsp}]}
  - {name: gpt-cut,    routes: [{channel: rsp}]}
  - {name: gpt-nodone, routes: [{channel: rsp}]}
  - {name: recorded,   routes: [{channel: recorded, model: rec-up}]}
  - {name: canned,     routes: [{channel: canned}]}
  - {name: mixed,      routes: [{channel: rsp}, {channel: chatonly, priority: 1}]}
`, recURL, cannedURL))
	return g, rc
}

// responsesBody is a raw Responses request with spacing and fields a
// translation would not keep as they are.
func responsesBody(model, prompt, extra string) string {
	return `{"model": "` + model + `",  "max_output_tokens": 256, "metadata": {"user": "u-1"},` + extra +
		` "input": [{"role": "user", "content": [{"type": "input_text", "text": "` + prompt + `"}]}], "truncation": "auto"}`
}

func streamExtra(stream bool) string {
	if stream {
		return ` "stream": true,`
	}
	return ""
}

func TestResponsesPassthroughRequestUnchanged(t *testing.T) {
	t.Parallel()
	g, _ := responsesGateway(t)
	for _, stream := range []bool{false, true} {
		// Stateful requests are the upstream's business when passed through.
		body := responsesBody("gpt", "tell me about tolls", streamExtra(stream)+` "previous_response_id": "resp_earlier", "store": true,`)
		resp, got := g.do(t, http.MethodPost, "/v1/responses", body, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream=%v: status %d: %s", stream, resp.StatusCode, got)
		}
		want := strings.Replace(body, `"model": "gpt"`, `"model": "gpt-up"`, 1)
		if sent := string(g.sim(t, "rsp").LastRequest("gpt-up")); sent != want {
			t.Errorf("stream=%v: the upstream received\n%s\nwant the client's body with only the model changed\n%s", stream, sent, want)
		}
	}
	// A route that may reach a chat-only channel is translated.
	body := responsesBody("mixed", "tell me about tolls", "")
	if resp, got := g.do(t, http.MethodPost, "/v1/responses", body, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("mixed: status %d: %s", resp.StatusCode, got)
	}
	if sent := string(g.sim(t, "rsp").LastRequest("mixed")); !strings.Contains(sent, `"messages"`) {
		t.Errorf("mixed route: the upstream received %q, want a chat completions request", sent)
	}
	// ... and there stateful requests are still refused.
	resp, got := g.do(t, http.MethodPost, "/v1/responses", responsesBody("mixed", "hi", ` "previous_response_id": "resp_earlier",`), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), "previous_response_id") {
		t.Errorf("mixed stateful: status %d: %s, want a 400 naming previous_response_id", resp.StatusCode, got)
	}
}

func TestResponsesPassthroughAnswerUnchanged(t *testing.T) {
	t.Parallel()
	g, rc := responsesGateway(t)
	for _, stream := range []bool{false, true} {
		resp, got := g.do(t, http.MethodPost, "/v1/responses", responsesBody("recorded", "a story of bridges", streamExtra(stream)), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream=%v: status %d: %s", stream, resp.StatusCode, got)
		}
		if sent := rc.sent(); string(got) != sent || sent == "" {
			t.Errorf("stream=%v: the client got\n%s\nwant the upstream's bytes\n%s", stream, got, sent)
		}
		if stream && (!strings.Contains(string(got), "event: response.output_text.delta") || !strings.HasPrefix(string(got), "event: response.created\n")) {
			t.Errorf("the stream has no deltas: %s", got)
		}
	}
}

func TestResponsesPassthroughUsage(t *testing.T) {
	t.Parallel()
	g, _ := responsesGateway(t)
	ids := map[bool]string{}
	for _, stream := range []bool{false, true} {
		want := cannedResponseBody
		if stream {
			want = cannedResponseStream
		}
		resp, got := g.do(t, http.MethodPost, "/v1/responses", responsesBody("canned", "hi", streamExtra(stream)), nil)
		if resp.StatusCode != http.StatusOK || string(got) != want {
			t.Fatalf("stream=%v: status %d, body\n%s\nwant\n%s", stream, resp.StatusCode, got, want)
		}
		ids[stream] = resp.Header.Get("X-Request-Id")
	}
	checkCannedRows(t, g.requestLogs(t), ids, cannedRow{prompt: 30, cached: 12, completion: 7, total: 37, finish: "stop", served: "gpt-canned"})
}

func TestResponsesPassthroughRetries(t *testing.T) {
	t.Parallel()
	g, _ := responsesGateway(t)
	for _, stream := range []bool{false, true} {
		g.sim(t, "rsp").Reset()
		resp, got := g.do(t, http.MethodPost, "/v1/responses", responsesBody("gpt-429", "retry me", streamExtra(stream)), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream=%v: status %d: %s", stream, resp.StatusCode, got)
		}
		if ch, n := resp.Header.Get("X-Tollgate-Channel"), resp.Header.Get("X-Tollgate-Attempts"); ch != "rsp" || n != "2" {
			t.Errorf("stream=%v: channel %q attempts %q, want rsp 2", stream, ch, n)
		}
		s := string(got)
		if stream && (strings.Count(s, "event: response.created") != 1 || strings.Count(s, "event: response.completed\n") != 1 ||
			!strings.HasSuffix(s[:strings.LastIndex(s, "\ndata: ")], "event: response.completed")) {
			t.Errorf("the retried stream is not one complete response:\n%s", s)
		}
	}
}

func TestResponsesPassthroughBrokenStream(t *testing.T) {
	t.Parallel()
	g, _ := responsesGateway(t)
	ids := map[string]string{}
	for _, model := range []string{"gpt-cut", "gpt-nodone"} {
		resp, got := g.do(t, http.MethodPost, "/v1/responses", responsesBody(model, "break me", streamExtra(true)), nil)
		ids[model] = resp.Header.Get("X-Request-Id")
		s := string(got)
		if resp.StatusCode != http.StatusOK || !strings.Contains(s, "event: response.output_text.delta") {
			t.Fatalf("%s: status %d, want a started stream: %s", model, resp.StatusCode, s)
		}
		if strings.Contains(s, "event: response.completed") || strings.Contains(s, "response.failed") ||
			!strings.Contains(s, "event: error\ndata: {\"type\":\"error\",\"code\":") {
			t.Errorf("%s: want an error event and no terminal event, got\n%s", model, s)
		}
		if !strings.HasSuffix(s[:strings.LastIndex(s, "\ndata: ")], "event: error") {
			t.Errorf("%s: the error event is not the last, got\n%s", model, s)
		}
	}
	checkTruncatedRows(t, g.requestLogs(t), ids)
}

func TestResponsesPassthroughSDK(t *testing.T) {
	t.Parallel()
	g, _ := responsesGateway(t)
	client := g.client()
	prompt := "stream a story about ferries"
	stream := client.Responses.NewStreaming(t.Context(), responsesParams("gpt", prompt))
	types, text, last := collectStream(stream)
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := g.sim(t, "rsp").Answer("gpt-up", prompt, 0)
	if text != want || last.Type != "response.completed" || last.Response.OutputText() != want {
		t.Fatalf("deltas %q, last %s with text %q; want the simulator's %q (events %v)", text, last.Type, last.Response.OutputText(), want, types)
	}
	if last.Response.Model != "gpt-up" || last.Response.Usage.OutputTokens != 16 {
		t.Errorf("model %q usage %+v, want the upstream's gpt-up with 16 output tokens, passed through", last.Response.Model, last.Response.Usage)
	}
	body, err := client.Responses.New(t.Context(), responsesParams("gpt", prompt))
	if err != nil || body.OutputText() != want || body.Usage.OutputTokens != 16 {
		t.Fatalf("non-stream: %v, text %q usage %+v, want %q", err, body.OutputText(), body.Usage, want)
	}
	cut := client.Responses.NewStreaming(t.Context(), responsesParams("gpt-cut", prompt))
	for cut.Next() {
	}
	if cut.Err() == nil {
		t.Error("a cut stream ended without an error in the SDK")
	}
}
