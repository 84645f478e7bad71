package app_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// TestStreamFaults injects each upstream stream fault and checks what the
// SDK and the raw event stream show: a failure after the 200 is an in-band
// error event without [DONE], never a clean end; recoverable faults are
// invisible.
func TestStreamFaults(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t)
	tests := []struct {
		name  string
		model string
		// errHas is in the SDK's stream error; "" means the stream succeeds
		// with the simulator's whole answer.
		errHas string
		// tokens is how many content tokens arrive before a failure.
		tokens int
	}{
		{name: "cut after 4 tokens", model: "sim-cut", errHas: "interrupted", tokens: 4},
		{name: "malformed chunk is skipped", model: "sim-malformed"},
		{name: "missing [DONE] after finish_reason is completed", model: "sim-no-done"},
		{name: "stall beyond the idle timeout", model: "sim-stall", errHas: "idle", tokens: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := g.sim(t, "sim")
			if tt.model == "sim-stall" {
				sim = g.sim(t, "strict")
			}
			prompt := "fault " + tt.name
			answer := sim.Answer(tt.model, prompt, 0)

			t.Run("sdk", func(t *testing.T) {
				client := g.client()
				stream := client.Chat.Completions.NewStreaming(t.Context(), chatParams(tt.model, prompt))
				var acc openai.ChatCompletionAccumulator
				for stream.Next() {
					acc.AddChunk(stream.Current())
				}
				err := stream.Err()
				var got string
				if len(acc.Choices) > 0 {
					got = acc.Choices[0].Message.Content
				}
				if tt.errHas == "" {
					if err != nil || got != answer {
						t.Fatalf("stream = %q, %v; want %q and success", got, err, answer)
					}
					return
				}
				var se *ssestream.StreamError
				if !errors.As(err, &se) || !strings.Contains(se.Message, tt.errHas) {
					t.Fatalf("stream error = %v, want an in-band error containing %q", err, tt.errHas)
				}
				if want := strings.Join(strings.SplitAfter(answer, " ")[:tt.tokens], ""); strings.TrimSpace(got) != strings.TrimSpace(want) {
					t.Errorf("content before the error = %q, want %q", got, want)
				}
			})
			t.Run("raw", func(t *testing.T) {
				resp, events := g.streamEvents(t, "/v1/chat/completions", chatBody(tt.model, prompt, `"stream":true`))
				if resp.StatusCode != http.StatusOK || len(events) == 0 {
					t.Fatalf("status %d, %d events", resp.StatusCode, len(events))
				}
				last := events[len(events)-1]
				if slices.Contains(events, `{"id":`) {
					t.Error("the malformed upstream line reached the client")
				}
				if tt.errHas == "" {
					if last != "[DONE]" || slices.Contains(events[:len(events)-1], "[DONE]") {
						t.Errorf("events end with %q, want exactly one [DONE] at the end", last)
					}
					return
				}
				if slices.Contains(events, "[DONE]") {
					t.Error("a failed stream carries [DONE]")
				}
				if !strings.HasPrefix(last, `{"error":{`) || !strings.Contains(last, `"type":"server_error"`) {
					t.Errorf("last event = %s, want an OpenAI error object", last)
				}
				if id := resp.Header.Get("X-Request-Id"); !strings.Contains(last, id) {
					t.Errorf("in-band error %s does not quote the request id %s", last, id)
				}
			})
		})
	}
}
