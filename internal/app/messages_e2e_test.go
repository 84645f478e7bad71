package app_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/tollgate/tollgate/internal/simupstream"
)

// messagesGateway serves the Messages API from two kinds of channel: the
// built-in simulator (OpenAI dialect) for model "sim-chat", and an
// "openai" channel reaching a simulator over HTTP for "remote-chat"
// (upstream name "gpt-remote"). It returns the gateway and, per model,
// the simulator and upstream model name that answer it.
func messagesGateway(t *testing.T) (*gateway, map[string]answerer) {
	t.Helper()
	remote := simupstream.New(simupstream.Options{Default: simupstream.Profile{Length: 12}})
	srv := httptest.NewServer(remote)
	t.Cleanup(srv.Close)
	g := newGateway(t, resilienceBase+fmt.Sprintf(`
upstream:
  keepalive_interval: 20ms
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {length: 16}
      models:
        sim-cut:  {fault: {kind: cut, after: 4}}
        sim-slow: {first_token_delay: 150ms}
  - name: remote
    provider: openai
    base_url: %s/v1
    api_key: upstream-secret
models:
  - {name: sim-chat, routes: [{channel: sim}]}
  - {name: remote-chat, routes: [{channel: remote, model: gpt-remote}]}
  - {name: sim-cut, routes: [{channel: sim}]}
  - {name: sim-slow, routes: [{channel: sim}]}
`, srv.URL))
	return g, map[string]answerer{
		"sim-chat":    {sim: g.sim(t, "sim"), model: "sim-chat"},
		"remote-chat": {sim: remote, model: "gpt-remote"},
	}
}

// answerer is the simulator behind a model and its upstream model name.
type answerer struct {
	sim   *simupstream.Simulator
	model string
}

func (a answerer) answer(prompt string) string { return a.sim.Answer(a.model, prompt, 0) }

// anthropicClient is the official Anthropic SDK pointed at tollgate with a
// tollgate key, without SDK retries.
func (g *gateway) anthropicClient(opts ...option.RequestOption) anthropic.Client {
	base := []option.RequestOption{
		option.WithBaseURL(g.srv.URL),
		option.WithAPIKey(g.key),
		option.WithHTTPClient(g.srv.Client()),
		option.WithMaxRetries(0),
	}
	return anthropic.NewClient(append(base, opts...)...)
}

func messageParams(model, prompt string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "You are a gateway test."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
	}
}

func messagesWeatherTool() []anthropic.ToolUnionParam {
	return []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}},
		Required:   []string{"city"},
	}, "get_weather")}
}

func TestMessagesAPI(t *testing.T) {
	t.Parallel()
	g, models := messagesGateway(t)
	for model, up := range models {
		t.Run(model, func(t *testing.T) {
			client := g.anthropicClient()
			t.Run("message", func(t *testing.T) {
				prompt := "tell me about toll roads"
				msg, err := client.Messages.New(t.Context(), messageParams(model, prompt))
				if err != nil {
					t.Fatal(err)
				}
				if len(msg.Content) != 1 || msg.Content[0].Type != "text" || msg.Content[0].Text != up.answer(prompt) {
					t.Fatalf("content %+v, want one text block with the simulator's answer %q", msg.Content, up.answer(prompt))
				}
				if msg.StopReason != anthropic.StopReasonEndTurn || msg.Role != "assistant" || !strings.HasPrefix(msg.ID, "msg_") {
					t.Errorf("stop_reason %q, role %q, id %q", msg.StopReason, msg.Role, msg.ID)
				}
				if msg.Usage.InputTokens <= 0 || msg.Usage.OutputTokens <= 0 {
					t.Errorf("usage %+v, want input and output tokens", msg.Usage)
				}
			})
			t.Run("stream", func(t *testing.T) {
				prompt := "stream a story about bridges"
				stream := client.Messages.NewStreaming(t.Context(), messageParams(model, prompt))
				var acc anthropic.Message
				var text strings.Builder
				var kinds []string
				for stream.Next() {
					ev := stream.Current()
					kinds = append(kinds, ev.Type)
					if err := acc.Accumulate(ev); err != nil {
						t.Fatalf("accumulating %s: %v", ev.Type, err)
					}
					if d, ok := ev.AsAny().(anthropic.ContentBlockDeltaEvent); ok {
						text.WriteString(d.Delta.Text)
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if want := up.answer(prompt); text.String() != want || len(acc.Content) != 1 || acc.Content[0].Text != want {
					t.Fatalf("streamed %q (accumulated %+v), want %q", text.String(), acc.Content, want)
				}
				if acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens <= 0 || acc.Usage.InputTokens <= 0 {
					t.Errorf("stop_reason %q, usage %+v", acc.StopReason, acc.Usage)
				}
				if kinds[0] != "message_start" || kinds[len(kinds)-2] != "message_delta" || kinds[len(kinds)-1] != "message_stop" {
					t.Errorf("event order %v", kinds)
				}
			})
			t.Run("tool use", func(t *testing.T) {
				params := messageParams(model, "weather in Paris?")
				params.Tools = messagesWeatherTool()
				msg, err := client.Messages.New(t.Context(), params)
				if err != nil {
					t.Fatal(err)
				}
				if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" ||
					msg.Content[0].Name != "get_weather" || msg.Content[0].ID == "" || !json.Valid(msg.Content[0].Input) || msg.Content[0].Input[0] != '{' {
					t.Fatalf("stop_reason %q, content %+v: want one get_weather tool_use with an object input", msg.StopReason, msg.Content)
				}
				call := msg.Content[0]

				// The same call streamed: input_json_delta fragments add up
				// to the same input.
				stream := client.Messages.NewStreaming(t.Context(), params)
				var acc anthropic.Message
				for stream.Next() {
					if err := acc.Accumulate(stream.Current()); err != nil {
						t.Fatal(err)
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if len(acc.Content) != 1 || acc.Content[0].Name != "get_weather" || string(acc.Content[0].Input) != string(call.Input) || acc.StopReason != anthropic.StopReasonToolUse {
					t.Fatalf("streamed %+v (stop %q), want input %s", acc.Content, acc.StopReason, call.Input)
				}

				// The tool result goes back and the model answers in text.
				params.Messages = append(params.Messages, msg.ToParam(),
					anthropic.NewUserMessage(anthropic.NewToolResultBlock(call.ID, "18C, sunny", false)))
				params.ToolChoice = anthropic.ToolChoiceUnionParam{OfNone: &anthropic.ToolChoiceNoneParam{}}
				final, err := client.Messages.New(t.Context(), params)
				if err != nil {
					t.Fatal(err)
				}
				if final.StopReason != anthropic.StopReasonEndTurn || len(final.Content) != 1 || final.Content[0].Text == "" {
					t.Fatalf("after the tool result: stop %q, content %+v", final.StopReason, final.Content)
				}
				sent := string(up.sim.LastRequest(up.model))
				if !strings.Contains(sent, `"role":"tool","content":"18C, sunny","tool_call_id":"`+call.ID+`"`) {
					t.Errorf("the upstream received %s, want the tool result as a tool message", sent)
				}
			})
			t.Run("unknown model", func(t *testing.T) {
				for _, stream := range []bool{false, true} {
					var err error
					if stream {
						s := client.Messages.NewStreaming(t.Context(), messageParams("no-such-model", "hi"))
						for s.Next() {
						}
						err = s.Err()
					} else {
						_, err = client.Messages.New(t.Context(), messageParams("no-such-model", "hi"))
					}
					var ae *anthropic.Error
					if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || ae.Type() != anthropic.ErrorTypeNotFoundError {
						t.Fatalf("stream=%v: got %v, want a 404 not_found_error", stream, err)
					}
				}
			})
		})
	}
}

// TestMessagesAPIErrors covers the Anthropic error shapes the gateway
// itself produces, on both auth headers.
func TestMessagesAPIErrors(t *testing.T) {
	t.Parallel()
	g, _ := messagesGateway(t)
	body := `{"model":"sim-chat","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantStatus int
		wantType   string
	}{
		{name: "x-api-key", header: http.Header{"X-Api-Key": {g.key}, "Anthropic-Version": {"2023-06-01"}}, body: body, wantStatus: 200},
		{name: "bearer", header: http.Header{"Authorization": {"Bearer " + g.key}}, body: body, wantStatus: 200},
		{name: "no key", header: http.Header{}, body: body, wantStatus: 401, wantType: "authentication_error"},
		{name: "bad key", header: http.Header{"X-Api-Key": {"sk-tg-nope"}}, body: body, wantStatus: 401, wantType: "authentication_error"},
		{name: "missing max_tokens", header: http.Header{"X-Api-Key": {g.key}}, body: `{"model":"sim-chat","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantType: "invalid_request_error"},
		{name: "not JSON", header: http.Header{"X-Api-Key": {g.key}}, body: `{`, wantStatus: 400, wantType: "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.header.Set("Content-Type", "application/json")
			resp, raw := g.doRaw(t, http.MethodPost, "/v1/messages", tt.body, tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, raw)
			}
			if resp.Header.Get("request-id") == "" {
				t.Error("no request-id header")
			}
			if tt.wantType == "" {
				return
			}
			var e struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(raw, &e) != nil || e.Type != "error" || e.Error.Type != tt.wantType || e.Error.Message == "" {
				t.Errorf("body %s, want an Anthropic error of type %s", raw, tt.wantType)
			}
		})
	}
}

// doRaw sends a request with exactly the given headers (no default key).
func (g *gateway) doRaw(t *testing.T, method, path, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, g.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// TestMessagesStreamEvents checks what only a raw stream shows: ping
// keep-alives while the upstream is slow, and a failure after content
// reported as an Anthropic error event that the SDK raises.
func TestMessagesStreamEvents(t *testing.T) {
	t.Parallel()
	g, _ := messagesGateway(t)
	t.Run("ping keep-alive", func(t *testing.T) {
		body := `{"model":"sim-slow","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"slowly"}]}`
		resp, raw := g.doRaw(t, http.MethodPost, "/v1/messages", body, http.Header{"X-Api-Key": {g.key}, "Content-Type": {"application/json"}})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		s := string(raw)
		if !strings.Contains(s, "event: ping\ndata: {\"type\":\"ping\"}\n\n") || strings.Contains(s, ": keep-alive") {
			t.Errorf("want ping events and no keep-alive comments:\n%s", s)
		}
		if !strings.HasSuffix(s, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") || strings.Contains(s, "[DONE]") {
			t.Errorf("want the stream to end with message_stop and no [DONE]:\n%s", s)
		}
	})
	t.Run("error after content", func(t *testing.T) {
		client := g.anthropicClient()
		stream := client.Messages.NewStreaming(t.Context(), messageParams("sim-cut", "a cut story"))
		var text strings.Builder
		for stream.Next() {
			if d, ok := stream.Current().AsAny().(anthropic.ContentBlockDeltaEvent); ok {
				text.WriteString(d.Delta.Text)
			}
		}
		err := stream.Err()
		if err == nil || text.Len() == 0 {
			t.Fatalf("got %q and err %v, want some text and then an error", text.String(), err)
		}
		body := `{"model":"sim-cut","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"cut"}]}`
		_, raw := g.doRaw(t, http.MethodPost, "/v1/messages", body, http.Header{"X-Api-Key": {g.key}})
		if !strings.Contains(string(raw), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"") || strings.Contains(string(raw), "message_stop") {
			t.Errorf("want an api_error event and no message_stop:\n%s", raw)
		}
	})
}
