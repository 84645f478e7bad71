package app_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// continuationConfig has one model per way a stream cut after content is
// continued. Channel "a" cuts every answer of its models after 4 tokens
// ("once" only the first); the other channels continue it:
//
//	same:      a alone, cut once: a continues by prefill
//	prefill:   a, then b, which takes a prefill
//	splice:    a, then "regen", which takes no prefill: it regenerates and
//	           tollgate splices
//	rejected:  a, then "liar", declared prefill-capable but rejecting
//	           prefills: detected, then regenerate and splice
//	end:       a alone, cut once after the last token, before the finish:
//	           continued by prefill with nothing left to add
//	end-splice: a, then regen, cut after the last token: the regenerated
//	           answer is all prefix
const continuationConfig = retryBase + `
  timeouts: {total: 3s}
channels:
  - name: a
    provider: simulator
    simulator:
      default: {fault: {kind: cut, after: 4}}
      models:
        same:       {fault: {kind: cut, after: 4, times: 1}}
        end:        {fault: {kind: cut, after: 1000, times: 1}}
        end-splice: {fault: {kind: cut, after: 1000}}
  - {name: b, provider: simulator}
  - {name: regen, provider: simulator, prefill: false}
  - name: liar
    provider: simulator
    prefill: true
    simulator: {default: {reject_prefill: true}}
models:
  - {name: same,     routes: [{channel: a}]}
  - {name: prefill,  routes: [{channel: a}, {channel: b, priority: 1}]}
  - {name: splice,   routes: [{channel: a}, {channel: regen, priority: 1}]}
  - {name: rejected, routes: [{channel: a}, {channel: liar, priority: 1}]}
  - {name: end,        routes: [{channel: a}]}
  - {name: end-splice, routes: [{channel: a}, {channel: regen, priority: 1}]}
`

// TestStreamContinuation cuts streams after content and checks that the
// client still gets exactly one complete answer, with the continuation
// reported in the trailers and the log.
func TestStreamContinuation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model    string
		channel  string // that finishes the answer
		attempts int
	}{
		{model: "same", channel: "a", attempts: 2},
		{model: "prefill", channel: "b", attempts: 2},
		{model: "splice", channel: "regen", attempts: 2},
		{model: "rejected", channel: "liar", attempts: 3},
		{model: "end", channel: "a", attempts: 2},
		{model: "end-splice", channel: "regen", attempts: 2},
	}
	for _, tt := range tests {
		for _, usage := range []bool{false, true} {
			t.Run(tt.model+"/include_usage="+strconv.FormatBool(usage), func(t *testing.T) {
				t.Parallel()
				g := newGateway(t, continuationConfig)
				prompt := "continue " + tt.model
				want := g.sim(t, "a").Answer(tt.model, prompt, 0)
				extra := `"stream":true`
				if usage {
					extra += `,"stream_options":{"include_usage":true}`
				}
				r := rawStream(t, g, chatBody(tt.model, prompt, extra))
				r.wantComplete(t, want)
				if ids := chunkIDs(t, r.events); len(ids) != 1 {
					t.Errorf("chunk ids %v, want one id for the whole stream", ids)
				}
				words := int64(len(strings.Fields(want)))
				switch {
				case usage && (r.usage == nil || r.usage.CompletionTokens < words || r.usage.TotalTokens != r.usage.PromptTokens+r.usage.CompletionTokens):
					t.Errorf("usage %+v, want at least the %d tokens delivered and a consistent total", r.usage, words)
				case !usage && r.usage != nil:
					t.Errorf("usage chunk %+v the client did not ask for", r.usage)
				}
				wantHeaders(t, r.resp.Header, map[string]string{"X-Tollgate-Channel": "a", "X-Tollgate-Attempts": "1"})
				wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Continued": "true", "X-Tollgate-Final-Channel": tt.channel,
					"X-Tollgate-Final-Attempts": strconv.Itoa(tt.attempts), "X-Tollgate-Final-Model": tt.model})
				row := logRow(t, g, r.call)
				if row.Status != 200 || !row.Continued || row.Truncated || row.Attempts != tt.attempts || row.ErrorType != "" ||
					!strings.HasPrefix(row.RetryReasons, "#1 a: server_error") || row.Channel != tt.channel {
					t.Errorf("log row: status %d continued %v truncated %v attempts %d error %q reasons %q channel %q",
						row.Status, row.Continued, row.Truncated, row.Attempts, row.ErrorType, row.RetryReasons, row.Channel)
				}
				if row.CompletionTokens < words {
					t.Errorf("log row counts %d completion tokens, want at least the %d delivered", row.CompletionTokens, words)
				}
			})
		}
		t.Run(tt.model+"/sdk", func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, continuationConfig)
			prompt := "continue " + tt.model + " for the sdk"
			got := sdkStream(t, g, chatParams(tt.model, prompt))
			if want := g.sim(t, "a").Answer(tt.model, prompt, 0); got.err != nil || got.text != want {
				t.Fatalf("SDK assembled %q, %v; want %q", got.text, got.err, want)
			}
		})
	}
}

// chunkIDs returns the distinct ids of the chunks of a stream.
func chunkIDs(t *testing.T, events []string) []string {
	t.Helper()
	var ids []string
	for _, e := range events {
		if e == "[DONE]" {
			continue
		}
		id := decodeRaw[struct {
			ID string `json:"id"`
		}](t, e).ID
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestStreamCutNotContinued covers cuts that cannot be continued: the
// client gets the part delivered, then an error event that names the cut
// (never a prefill rejection or a splice mismatch), no [DONE], and the SDK
// raises.
func TestStreamCutNotContinued(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 3s}
  continuation: {enabled: %s}
channels:
  - name: a
    provider: simulator
    simulator: {default: {fault: {kind: cut, after: 4}}}
  - {name: b, provider: simulator}
  - {name: regen, provider: simulator, prefill: false}
  - name: liar
    provider: simulator
    prefill: true
    simulator: {default: {reject_prefill: true}}
models:
  # b could continue, but continuation is off.
  - {name: disabled, routes: [{channel: a}, {channel: b, priority: 1}]}
  # Only a fallback model is left, without prefill, and its answer differs.
  - name: differs
    routes: [{channel: a}]
    retry: {on: [rate_limit]}
    fallbacks: [{model: other}]
  - {name: other, routes: [{channel: regen}]}
  # The next channel rejects the prefill, and regenerates another model's answer.
  - {name: rejected, routes: [{channel: a}, {channel: liar, model: elsewhere, priority: 1}]}
  # b could continue text, but a tool call cannot be continued.
  - {name: tools, routes: [{channel: a}, {channel: b, priority: 1}]}
`
	tests := []struct {
		name     string
		model    string
		enabled  string
		attempts int
		// requests are the upstream requests per channel/model after a.
		requests map[[2]string]int
		// tools asks for a tool call instead of text.
		tools bool
	}{
		{name: "continuation disabled", model: "disabled", enabled: "false", attempts: 1,
			requests: map[[2]string]int{{"b", "disabled"}: 0}},
		{name: "fallback without prefill answers differently", model: "differs", enabled: "true", attempts: 2,
			requests: map[[2]string]int{{"regen", "other"}: 1}},
		{name: "prefill rejected and the regenerated answer differs", model: "rejected", enabled: "true", attempts: 3,
			requests: map[[2]string]int{{"liar", "elsewhere"}: 2}},
		{name: "a tool call", model: "tools", enabled: "true", attempts: 1, tools: true,
			requests: map[[2]string]int{{"b", "tools"}: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, strings.Replace(cfg, "%s", tt.enabled, 1))
			prompt := "cut " + tt.name
			want := g.sim(t, "a").Answer(tt.model, prompt, 0)
			delivered := firstTokens(want, 4)
			extra, params := `"stream":true`, chatParams(tt.model, prompt)
			if tt.tools {
				delivered = "" // the tool call's arguments are not content
				extra += `,"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]`
				params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
					Name: "lookup", Parameters: shared.FunctionParameters{"type": "object"}})}
			}
			if tt.model == "differs" && strings.HasPrefix(g.sim(t, "regen").Answer("other", prompt, 0), delivered) {
				t.Fatal("test setup: the fallback's answer begins like the primary's; change the prompt")
			}
			r := rawStream(t, g, chatBody(tt.model, prompt, extra))
			r.wantBroken(t, delivered, "interrupted", "connection broke in the middle of the stream", "channel a", r.requestID())
			for _, bad := range []string{"prefill", "regenerated"} {
				if strings.Contains(r.errEvent, bad) {
					t.Errorf("error event %s reports the continuation's failure (%q), not the cut", r.errEvent, bad)
				}
			}
			for cm, n := range tt.requests {
				if got := g.sim(t, cm[0]).Requests(cm[1]); got != n {
					t.Errorf("%s got %d requests for %s, want %d", cm[0], got, cm[1], n)
				}
			}
			wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Final-Attempts": strconv.Itoa(tt.attempts)})

			sdk := sdkStream(t, g, params)
			var se *ssestream.StreamError
			if !errors.As(sdk.err, &se) || !strings.Contains(se.Message, "interrupted") {
				t.Errorf("SDK stream error = %v, want an in-band error about the interruption", sdk.err)
			}
			if sdk.text != delivered {
				t.Errorf("SDK assembled %q before the error, want %q", sdk.text, delivered)
			}

			row := logRow(t, g, r.call)
			if row.Status != 200 || !row.Truncated || row.Continued || row.Attempts != tt.attempts || row.ErrorType != "upstream_network" {
				t.Errorf("log row: status %d truncated %v continued %v attempts %d error %q",
					row.Status, row.Truncated, row.Continued, row.Attempts, row.ErrorType)
			}
		})
	}
}

// TestStreamStall stalls a stream after content: tollgate notices within
// the idle limit, then continues on another channel or fails cleanly, and
// serves normally afterwards.
func TestStreamStall(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 3s}
channels:
  - name: a
    provider: simulator
    timeouts: {idle: 150ms}
    simulator:
      models:
        stall: {fault: {kind: stall, after: 3}}
  - {name: b, provider: simulator}
models:
  - {name: stall, routes: [{channel: a}, {channel: b, priority: 1}]}
  - {name: stall-alone, routes: [{channel: a, model: stall}]}
  - {name: healthy, routes: [{channel: a}]}
`
	const idle = 150 * time.Millisecond
	t.Run("continued on another channel", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		prompt := "stall then continue"
		r := rawStream(t, g, chatBody("stall", prompt, `"stream":true`))
		r.wantComplete(t, g.sim(t, "a").Answer("stall", prompt, 0))
		if r.elapsed < idle || r.elapsed > idle+slack {
			t.Errorf("answered after %v, want the %v idle limit and a quick continuation", r.elapsed, idle)
		}
		wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Continued": "true", "X-Tollgate-Final-Channel": "b"})
		row := logRow(t, g, r.call)
		if !row.Continued || row.Truncated || row.FailedPhase != "idle" || row.RetryReasons != "#1 a: timeout" {
			t.Errorf("log row: continued %v truncated %v phase %q reasons %q", row.Continued, row.Truncated, row.FailedPhase, row.RetryReasons)
		}
	})
	t.Run("only route: fails cleanly, then serves normally", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		prompt := "stall and fail"
		answer := g.sim(t, "a").Answer("stall", prompt, 0)
		r := rawStream(t, g, chatBody("stall-alone", prompt, `"stream":true`))
		r.wantBroken(t, firstTokens(answer, 3), "interrupted", "idle", "150ms", "channel a")
		if r.elapsed < idle || r.elapsed > idle+slack {
			t.Errorf("failed after %v, want the %v idle limit", r.elapsed, idle)
		}
		if n := g.sim(t, "a").Requests("stall"); n != 1 {
			t.Errorf("the stalled route got %d requests, want 1", n)
		}
		// tollgate is healthy afterwards.
		healthy := rawStream(t, g, chatBody("healthy", "all good", `"stream":true`))
		healthy.wantComplete(t, g.sim(t, "a").Answer("healthy", "all good", 0))
		got, _, err := sdkChat(t, g, chatParams("healthy", "all good"))
		if err != nil || got.Choices[0].Message.Content != g.sim(t, "a").Answer("healthy", "all good", 0) {
			t.Errorf("a normal request after the stall: %v", err)
		}
		row := logRow(t, g, r.call)
		if !row.Truncated || row.Continued || row.FailedPhase != "idle" || row.ErrorType != "upstream_timeout" {
			t.Errorf("log row: truncated %v continued %v phase %q error %q", row.Truncated, row.Continued, row.FailedPhase, row.ErrorType)
		}
	})
}
