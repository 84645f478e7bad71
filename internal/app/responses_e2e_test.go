package app_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

// responsesParams asks model for an answer to prompt through the
// Responses API.
func responsesParams(model, prompt string) responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model: model,
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)},
	}
}

// weatherTool is a function tool the simulator calls when offered.
var weatherTool = responses.ToolParamOfFunction("get_weather", map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}},
}, false)

// TestResponsesNonStream drives POST /v1/responses with openai-go against
// the simulator: text answers, the max_output_tokens cut and a tool call.
func TestResponsesNonStream(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	sim := g.sim(t, "sim")
	tests := []struct {
		name       string
		maxTokens  int64
		tools      bool
		status     string
		incomplete string
	}{
		{name: "text answer", status: "completed"},
		{name: "cut by max_output_tokens", maxTokens: 5, status: "incomplete", incomplete: "max_output_tokens"},
		{name: "function call", tools: true, status: "completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prompt := "respond about " + tt.name
			params := responsesParams("sim-chat", prompt)
			params.Instructions = openai.String("Be brief.")
			if tt.maxTokens > 0 {
				params.MaxOutputTokens = openai.Int(tt.maxTokens)
			}
			if tt.tools {
				params.Tools = []responses.ToolUnionParam{weatherTool}
			}
			var httpResp *http.Response
			got, err := client.Responses.New(t.Context(), params, option.WithResponseInto(&httpResp))
			if err != nil {
				t.Fatal(err)
			}
			if got.Object != "response" || string(got.Status) != tt.status || string(got.IncompleteDetails.Reason) != tt.incomplete {
				t.Errorf("object %q status %q incomplete %q, want response %q %q", got.Object, got.Status, got.IncompleteDetails.Reason, tt.status, tt.incomplete)
			}
			if want := "resp_" + httpResp.Header.Get("X-Request-Id"); got.ID != want {
				t.Errorf("id = %q, want %q", got.ID, want)
			}
			if got.Instructions.OfString != "Be brief." {
				t.Errorf("instructions = %+v, want them echoed", got.Instructions)
			}
			if tt.tools {
				if len(got.Output) != 1 || got.Output[0].Type != "function_call" || got.Output[0].Name != "get_weather" ||
					!json.Valid([]byte(got.Output[0].Arguments.OfString)) || got.Output[0].CallID == "" {
					t.Fatalf("output = %+v, want one get_weather call", got.Output)
				}
				return
			}
			want := sim.Answer(upstreamChat, prompt, int(tt.maxTokens))
			if got.OutputText() != want {
				t.Fatalf("output text = %q, want the simulator's %q", got.OutputText(), want)
			}
			words := int64(len(strings.Fields(want)))
			if u := got.Usage; u.InputTokens <= 0 || u.OutputTokens != words || u.TotalTokens != u.InputTokens+u.OutputTokens {
				t.Errorf("usage = %+v, want %d output tokens and a consistent total", u, words)
			}
			// The upstream got the instructions as a system message.
			var chat struct {
				Messages []struct{ Role, Content string } `json:"messages"`
			}
			if err := json.Unmarshal(sim.LastRequest(upstreamChat), &chat); err != nil || len(chat.Messages) != 2 || chat.Messages[0].Role != "system" {
				t.Errorf("upstream messages = %+v (%v), want system then user", chat.Messages, err)
			}
		})
	}
}

// TestResponsesToolRoundTrip sends an earlier function call and its output
// back as input items: the upstream gets an assistant tool call and a tool
// message, and the model answers with text.
func TestResponsesToolRoundTrip(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	params := responses.ResponseNewParams{
		Model: "sim-chat",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("weather in Paris?", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfFunctionCall(`{"city":"Paris"}`, "call_1", "get_weather"),
			{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{CallID: openai.String("call_1"),
				Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String("18C, sunny")}}},
		}},
	}
	client := g.client()
	got, err := client.Responses.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if got.OutputText() == "" || got.Status != "completed" {
		t.Fatalf("status %q text %q, want a completed text answer", got.Status, got.OutputText())
	}
	var chat struct {
		Messages []struct {
			Role       string `json:"role"`
			ToolCallID string `json:"tool_call_id"`
			ToolCalls  []struct {
				ID string `json:"id"`
			} `json:"tool_calls"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(g.sim(t, "sim").LastRequest(upstreamChat), &chat); err != nil {
		t.Fatal(err)
	}
	m := chat.Messages
	if len(m) != 3 || m[1].Role != "assistant" || len(m[1].ToolCalls) != 1 || m[1].ToolCalls[0].ID != "call_1" ||
		m[2].Role != "tool" || m[2].ToolCallID != "call_1" {
		t.Errorf("upstream messages = %+v, want user, assistant tool call, tool result", m)
	}
}

// collectStream reads a Responses stream: the event types in order, the
// text deltas joined, and the last event.
func collectStream(stream *ssestream.Stream[responses.ResponseStreamEventUnion]) (types []string, text string, last responses.ResponseStreamEventUnion) {
	var sb strings.Builder
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.output_text.delta" {
			sb.WriteString(ev.Delta)
		}
		last = ev
	}
	return types, sb.String(), last
}

// TestResponsesStream streams through the Responses API: the deltas make
// the simulator's answer, events come in the documented order and the
// terminal event carries the whole response with usage.
func TestResponsesStream(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	sim := g.sim(t, "sim")
	t.Run("text", func(t *testing.T) {
		prompt := "stream a response"
		stream := client.Responses.NewStreaming(t.Context(), responsesParams("sim-chat", prompt))
		types, text, last := collectStream(stream)
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		want := sim.Answer(upstreamChat, prompt, 0)
		if text != want {
			t.Fatalf("deltas = %q, want %q", text, want)
		}
		head := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"}
		tail := []string{"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
		if len(types) < len(head)+len(tail) || strings.Join(types[:len(head)], ",") != strings.Join(head, ",") ||
			strings.Join(types[len(types)-len(tail):], ",") != strings.Join(tail, ",") {
			t.Fatalf("event order = %v", types)
		}
		if last.Response.OutputText() != want || last.Response.Usage.OutputTokens != int64(len(strings.Fields(want))) {
			t.Errorf("completed response text %q usage %+v", last.Response.OutputText(), last.Response.Usage)
		}
	})
	t.Run("function call", func(t *testing.T) {
		params := responsesParams("sim-chat", "stream a tool call")
		params.Tools = []responses.ToolUnionParam{weatherTool}
		stream := client.Responses.NewStreaming(t.Context(), params)
		types, _, last := collectStream(stream)
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(types, ",")
		if !strings.Contains(joined, "response.output_item.added,response.function_call_arguments.delta") ||
			!strings.HasSuffix(joined, "response.function_call_arguments.done,response.output_item.done,response.completed") {
			t.Fatalf("event order = %v", types)
		}
		out := last.Response.Output
		if len(out) != 1 || out[0].Type != "function_call" || out[0].Name != "get_weather" || !json.Valid([]byte(out[0].Arguments.OfString)) {
			t.Errorf("output = %+v, want one get_weather call", out)
		}
	})
}

// TestResponsesErrors checks failures: untranslatable requests and
// upstream errors before the stream are OpenAI errors naming the
// parameter; a stream cut after content ends in an error the SDK raises,
// never in response.completed.
func TestResponsesErrors(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	client := g.client()
	t.Run("previous_response_id", func(t *testing.T) {
		params := responsesParams("sim-chat", "hi")
		params.PreviousResponseID = openai.String("resp_123")
		_, err := client.Responses.New(t.Context(), params)
		if e := wantError(t, err, http.StatusBadRequest, "invalid_request_error", "unsupported_parameter"); e.Param != "previous_response_id" ||
			!strings.Contains(e.Message, "does not store responses") {
			t.Errorf("param %q message %q", e.Param, e.Message)
		}
	})
	t.Run("built-in tool", func(t *testing.T) {
		params := responsesParams("sim-chat", "hi")
		params.Tools = []responses.ToolUnionParam{{OfWebSearch: &responses.WebSearchToolParam{Type: responses.WebSearchToolTypeWebSearch}}}
		_, err := client.Responses.New(t.Context(), params)
		if e := wantError(t, err, http.StatusBadRequest, "invalid_request_error", "unsupported_value"); e.Param != "tools[0].type" {
			t.Errorf("param %q, want tools[0].type", e.Param)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		_, err := client.Responses.New(t.Context(), responsesParams("no-such-model", "hi"))
		wantError(t, err, http.StatusNotFound, "invalid_request_error", "model_not_found")
	})
	t.Run("upstream 500", func(t *testing.T) {
		_, err := client.Responses.New(t.Context(), responsesParams("sim-500", "hi"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusInternalServerError && apiErr.StatusCode != http.StatusBadGateway {
			t.Fatalf("error = %v, want the upstream failure as an HTTP error", err)
		}
	})
	t.Run("stream cut after content", func(t *testing.T) {
		stream := client.Responses.NewStreaming(t.Context(), responsesParams("sim-cut", "cut me"))
		types, text, _ := collectStream(stream)
		err := stream.Err()
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("stream error = %v, want the interruption raised", err)
		}
		if text == "" || strings.Contains(strings.Join(types, ","), "response.completed") {
			t.Errorf("events %v text %q: want content, then the error and no response.completed", types, text)
		}
	})
	t.Run("stream cut: raw events", func(t *testing.T) {
		resp, events := g.streamEvents(t, "/v1/responses", `{"model":"sim-cut","input":"cut me","stream":true}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		joined := strings.Join(events, "\n")
		if !strings.Contains(joined, `"type":"error"`) || !strings.Contains(joined, `"type":"response.failed"`) || strings.Contains(joined, "[DONE]") {
			t.Errorf("events:\n%s\nwant an error event, response.failed and no [DONE]", joined)
		}
	})
}
