package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate/tollgate/internal/breaker"
	"github.com/tollgate/tollgate/internal/simupstream"
	"github.com/tollgate/tollgate/internal/store"
)

// slack is how much later than a limit a deadline-bound event may happen on
// a loaded machine and still count as "at the limit".
const slack = 500 * time.Millisecond

// call is one request made through the SDK or raw, with what the client saw.
type call struct {
	resp    *http.Response
	elapsed time.Duration
}

// header returns a response header value.
func (c call) header(name string) string { return c.resp.Header.Get(name) }

func (c call) requestID() string { return c.resp.Header.Get("X-Request-Id") }

// sdkChat makes a non-stream request with the SDK (no SDK retries unless
// opts say so).
func sdkChat(t *testing.T, g *gateway, params openai.ChatCompletionNewParams, opts ...option.RequestOption) (*openai.ChatCompletion, call, error) {
	t.Helper()
	var resp *http.Response
	client := g.client(append(opts, option.WithResponseInto(&resp))...)
	start := time.Now()
	out, err := client.Chat.Completions.New(t.Context(), params)
	c := call{resp: resp, elapsed: time.Since(start)}
	if resp == nil {
		t.Fatalf("no HTTP response (%v)", err)
	}
	return out, c, err
}

// sdkStreamResult is what the SDK assembled from a stream.
type sdkStreamResult struct {
	text string
	err  error
}

// sdkStream consumes a stream with the SDK's accumulator.
func sdkStream(t *testing.T, g *gateway, params openai.ChatCompletionNewParams, opts ...option.RequestOption) sdkStreamResult {
	t.Helper()
	client := g.client(opts...)
	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("the SDK accumulator rejected %s", stream.Current().RawJSON())
		}
	}
	r := sdkStreamResult{err: stream.Err()}
	if len(acc.Choices) > 0 {
		r.text = acc.Choices[0].Message.Content
	}
	return r
}

// sseResult is a raw stream as the client received it.
type sseResult struct {
	call
	status   int
	body     string
	events   []string // the data of every event, [DONE] included
	text     string   // the content of choice 0, assembled
	roles    int      // deltas that carried a role
	done     bool     // the stream ended with [DONE]
	errEvent string   // the data of an {"error":...} event, if any
	usage    *openai.CompletionUsage
}

// rawStream sends a raw streaming request and parses what came back.
func rawStream(t *testing.T, g *gateway, body string) sseResult {
	t.Helper()
	start := time.Now()
	resp, b := g.do(t, http.MethodPost, "/v1/chat/completions", body, nil)
	r := sseResult{call: call{resp: resp, elapsed: time.Since(start)}, status: resp.StatusCode, body: string(b)}
	if resp.StatusCode != http.StatusOK {
		return r
	}
	for _, p := range r.parse() {
		t.Error(p)
	}
	return r
}

// parse fills the parsed fields from r.body and returns what is wrong with
// the stream's shape.
func (r *sseResult) parse() (problems []string) {
	for line := range strings.Lines(r.body) {
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: ")
		if !ok {
			continue
		}
		r.events = append(r.events, data)
		if data == "[DONE]" {
			r.done = true
			continue
		}
		if r.done {
			problems = append(problems, "event after [DONE]: "+data)
		}
		var chunk struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Role    string  `json:"role"`
					Content *string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *openai.CompletionUsage `json:"usage"`
			Error json.RawMessage         `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			problems = append(problems, "event is not JSON: "+data)
			continue
		}
		if len(chunk.Error) > 0 {
			r.errEvent = data
			continue
		}
		if chunk.Usage != nil {
			r.usage = chunk.Usage
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				problems = append(problems, "choice index "+strconv.Itoa(ch.Index))
			}
			if ch.Delta.Role != "" {
				r.roles++
			}
			if ch.Delta.Content != nil {
				r.text += *ch.Delta.Content
			}
		}
	}
	return problems
}

// wantComplete checks that a raw stream delivered exactly answer: a 200,
// one role, the whole text, no error event and [DONE] last.
func (r sseResult) wantComplete(t *testing.T, answer string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if r.text != answer || r.roles != 1 || r.errEvent != "" || !r.done || r.events[len(r.events)-1] != "[DONE]" {
		t.Fatalf("stream assembled %q with %d roles, error event %q, [DONE] %v;\nwant %q with one role and [DONE] last\nbody:\n%s",
			r.text, r.roles, r.errEvent, r.done, answer, r.body)
	}
}

// wantBroken checks that a raw stream ended with an in-band error event
// containing every one of has, without [DONE], after delivering exactly
// delivered.
func (r sseResult) wantBroken(t *testing.T, delivered string, has ...string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s; want a 200 stream that breaks", r.status, r.body)
	}
	if r.done {
		t.Errorf("a broken stream carries [DONE]:\n%s", r.body)
	}
	if r.errEvent == "" || r.events[len(r.events)-1] != r.errEvent {
		t.Fatalf("no error event at the end of the stream:\n%s", r.body)
	}
	for _, h := range has {
		if !strings.Contains(r.errEvent, h) {
			t.Errorf("error event %s does not contain %q", r.errEvent, h)
		}
	}
	if r.text != delivered || r.roles != 1 {
		t.Errorf("delivered %q with %d roles before the error, want %q with one role", r.text, r.roles, delivered)
	}
}

// firstTokens returns the first n stream tokens of a simulator answer.
func firstTokens(answer string, n int) string {
	words := strings.SplitAfter(answer, " ")
	// SplitAfter keeps the space at the end of each word; the stream sends
	// it at the start of the next token instead.
	return strings.TrimSuffix(strings.Join(words[:n], ""), " ")
}

// wantHeaders checks response headers (or, when trailer is set, trailers).
func wantHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// logRow stops the gateway and returns the log row of the request c.
func logRow(t *testing.T, g *gateway, c call) store.RequestLog {
	t.Helper()
	return rowByID(t, g.requestLogs(t), c.requestID())
}

func TestRateLimitRetryAfter(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 2s}
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        once: {fault: {kind: status, status: 429, retry_after: 300ms, times: 1}}
        busy: {fault: {kind: status, status: 503, retry_after: 300ms, times: 1}}
        long: {fault: {kind: status, status: 429, retry_after: 5s}}
  - name: b
    provider: simulator
models:
  - {name: once, routes: [{channel: a}]}
  - {name: busy, routes: [{channel: a}]}
  - {name: long-failover, routes: [{channel: a, model: long}, {channel: b, model: long, priority: 1}]}
  - {name: long-alone, routes: [{channel: a, model: long}]}
`
	for _, tt := range []struct{ model, class string }{{"once", "rate_limit"}, {"busy", "server_error"}} {
		t.Run("the second attempt waits for Retry-After/"+tt.model, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			prompt := "retry after me"
			got, c, err := sdkChat(t, g, chatParams(tt.model, prompt))
			if err != nil {
				t.Fatal(err)
			}
			if want := g.sim(t, "a").Answer(tt.model, prompt, 0); got.Choices[0].Message.Content != want {
				t.Errorf("content %q, want %q", got.Choices[0].Message.Content, want)
			}
			if c.elapsed < 300*time.Millisecond {
				t.Errorf("answered after %v: the retry did not wait for the 300ms Retry-After", c.elapsed)
			}
			if n := g.sim(t, "a").Requests(tt.model); n != 2 {
				t.Errorf("upstream got %d requests, want 2", n)
			}
			wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Attempts": "2", "X-Tollgate-Channel": "a", "X-Tollgate-Fallback": "false"})
			row := logRow(t, g, c)
			if row.Status != http.StatusOK || row.Attempts != 2 || row.RetryReasons != "#1 a: "+tt.class || row.FailedPhase != "response_header" {
				t.Errorf("log row: status %d attempts %d reasons %q phase %q", row.Status, row.Attempts, row.RetryReasons, row.FailedPhase)
			}
		})
	}
	t.Run("a Retry-After beyond the deadline fails over at once", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		_, c, err := sdkChat(t, g, chatParams("long-failover", "fail over"))
		if err != nil {
			t.Fatal(err)
		}
		if c.elapsed > slack {
			t.Errorf("took %v: the failover waited", c.elapsed)
		}
		if a, b := g.sim(t, "a").Requests("long"), g.sim(t, "b").Requests("long"); a != 1 || b != 1 {
			t.Errorf("requests a=%d b=%d, want 1 each", a, b)
		}
		wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Attempts": "2", "X-Tollgate-Channel": "b", "X-Tollgate-Fallback": "false"})
	})
	t.Run("a Retry-After beyond the deadline with nowhere to go returns the 429", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		_, c, err := sdkChat(t, g, chatParams("long-alone", "nowhere"))
		apiErr := wantError(t, err, http.StatusTooManyRequests, "requests", "rate_limit_exceeded")
		if c.elapsed > slack {
			t.Errorf("took %v: tollgate waited for a Retry-After that cannot fit", c.elapsed)
		}
		wantHeaders(t, c.resp.Header, map[string]string{"Retry-After": "5", "Retry-After-Ms": "5000", "X-Tollgate-Attempts": "1"})
		if !strings.Contains(apiErr.Message, "rate limiting") {
			t.Errorf("message %q does not say the upstream is rate limiting", apiErr.Message)
		}
		// The channel now cools down for the Retry-After: the next request
		// is answered at once without reaching the upstream.
		_, c2, err := sdkChat(t, g, chatParams("long-alone", "nowhere again"))
		wantError(t, err, http.StatusTooManyRequests, "requests", "rate_limit_exceeded")
		if ra, _ := strconv.Atoi(c2.header("Retry-After")); ra < 1 || ra > 5 {
			t.Errorf("Retry-After %q on the cooled channel, want 1..5 seconds", c2.header("Retry-After"))
		}
		if n := g.sim(t, "a").Requests("long"); n != 1 {
			t.Errorf("upstream got %d requests, want 1: the cooling channel was called again", n)
		}
		rows := g.requestLogs(t)
		first, second := rowByID(t, rows, c.requestID()), rowByID(t, rows, c2.requestID())
		if first.Status != 429 || first.Attempts != 1 || second.Status != 429 || second.Attempts != 0 {
			t.Errorf("log rows: %d/%d attempts, %d/%d attempts; want 429 after 1 attempt, then 429 after none",
				first.Status, first.Attempts, second.Status, second.Attempts)
		}
	})
}

func TestRateLimitWithoutRetryAfterFallsBack(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 2s}
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        primary: {fault: {kind: status, status: 429}}
  - name: b
    provider: simulator
models:
  - name: primary
    routes: [{channel: a}]
    fallbacks: [{model: backup, on: [rate_limit]}]
  - {name: backup, routes: [{channel: b}]}
`
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			prompt := "rate limited without a hint"
			want := g.sim(t, "b").Answer("backup", prompt, 0)
			var c call
			if stream {
				r := rawStream(t, g, chatBody("primary", prompt, `"stream":true`))
				r.wantComplete(t, want)
				wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Final-Model": "backup", "X-Tollgate-Final-Fallback": "true", "X-Tollgate-Final-Attempts": "3"})
				c = r.call
			} else {
				got, cc, err := sdkChat(t, g, chatParams("primary", prompt))
				if err != nil {
					t.Fatal(err)
				}
				if got.Model != "backup" || got.Choices[0].Message.Content != want {
					t.Errorf("answer from %q: %q; want backup's %q", got.Model, got.Choices[0].Message.Content, want)
				}
				c = cc
			}
			wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Model": "backup", "X-Tollgate-Fallback": "true", "X-Tollgate-Attempts": "3"})
			// No hammering: the rate-limited channel got one retry, then the
			// fallback served.
			if a, b := g.sim(t, "a").Requests("primary"), g.sim(t, "b").Requests("backup"); a != 2 || b != 1 {
				t.Errorf("requests primary=%d backup=%d, want 2 and 1", a, b)
			}
			row := logRow(t, g, c)
			if row.Status != 200 || row.Attempts != 3 || !row.Fallback || row.RetryReasons != "#1 a: rate_limit; #2 a: rate_limit" {
				t.Errorf("log row: status %d attempts %d fallback %v reasons %q", row.Status, row.Attempts, row.Fallback, row.RetryReasons)
			}
		})
	}
}

// TestTransientFailuresRetried injects failures a retry or a failover
// cures: the client sees one clean answer, in both modes.
func TestTransientFailuresRetried(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 2s}
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        err-once:   {fault: {kind: status, status: 500, times: 1}}
        reset-once: {fault: {kind: reset, times: 1}}
        reset:      {fault: {kind: reset}}
        cut-early:  {fault: {kind: cut, after: 0, times: 1}}
  - name: b
    provider: simulator
models:
  - {name: err-once,   routes: [{channel: a}]}
  - {name: reset-once, routes: [{channel: a}]}
  - {name: reset,      routes: [{channel: a}, {channel: b, priority: 1}]}
  - {name: cut-early,  routes: [{channel: a}]}
`
	tests := []struct {
		name    string
		model   string
		channel string // that answers
		a, b    int    // upstream requests per channel
		reason  string
	}{
		{name: "500 once is retried", model: "err-once", channel: "a", a: 2, reason: "#1 a: server_error"},
		{name: "reset before headers once is retried", model: "reset-once", channel: "a", a: 2, reason: "#1 a: server_error"},
		{name: "reset before headers fails over", model: "reset", channel: "b", a: 1, b: 1, reason: "#1 a: server_error"},
		// A stream cut after its role chunk but before content, or a body
		// cut halfway.
		{name: "cut before any content is retried", model: "cut-early", channel: "a", a: 2, reason: "#1 a: server_error"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(tt.name+"/stream="+strconv.FormatBool(stream), func(t *testing.T) {
				t.Parallel()
				g := newGateway(t, cfg)
				prompt := "transient " + tt.name
				want := g.sim(t, tt.channel).Answer(tt.model, prompt, 0)
				var c call
				if stream {
					r := rawStream(t, g, chatBody(tt.model, prompt, `"stream":true`))
					r.wantComplete(t, want)
					wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Final-Attempts": "2", "X-Tollgate-Final-Channel": tt.channel, "X-Tollgate-Continued": "false"})
					c = r.call
				} else {
					got, cc, err := sdkChat(t, g, chatParams(tt.model, prompt))
					if err != nil {
						t.Fatal(err)
					}
					if got.Choices[0].Message.Content != want {
						t.Errorf("content %q, want %q", got.Choices[0].Message.Content, want)
					}
					c = cc
				}
				wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Attempts": "2", "X-Tollgate-Channel": tt.channel, "X-Tollgate-Model": tt.model})
				if a, b := g.sim(t, "a").Requests(tt.model), g.sim(t, "b").Requests(tt.model); a != tt.a || b != tt.b {
					t.Errorf("requests a=%d b=%d, want %d and %d", a, b, tt.a, tt.b)
				}
				row := logRow(t, g, c)
				if row.Status != 200 || row.Attempts != 2 || row.RetryReasons != tt.reason || row.Channel != tt.channel {
					t.Errorf("log row: status %d attempts %d reasons %q channel %q", row.Status, row.Attempts, row.RetryReasons, row.Channel)
				}
			})
		}
	}
}

// TestPersistentOverload makes every route and fallback answer 503: the
// attempts stop at max_attempts and the client is told not to retry.
func TestPersistentOverload(t *testing.T) {
	t.Parallel()
	const cfg = resilienceBase + `
upstream:
  retry: {max_attempts: 5, backoff_initial: 10ms, backoff_max: 50ms}
  timeouts: {total: 2s}
channels:
  - name: a
    provider: simulator
    simulator: {default: {fault: {kind: status, status: 503}}}
  - name: b
    provider: simulator
    simulator: {default: {fault: {kind: status, status: 503}}}
  - name: c
    provider: simulator
    simulator: {default: {fault: {kind: status, status: 503}}}
models:
  - name: busy
    routes: [{channel: a}, {channel: b, priority: 1}]
    fallbacks: [{model: spare}]
  - {name: spare, routes: [{channel: c}]}
`
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			var c call
			if stream {
				r := rawStream(t, g, chatBody("busy", "overloaded", `"stream":true`))
				if r.status != http.StatusServiceUnavailable {
					t.Fatalf("status %d, want 503 before any content: %s", r.status, r.body)
				}
				c = r.call
			} else {
				// The SDK may retry twice on its own: x-should-retry must stop it.
				_, cc, err := sdkChat(t, g, chatParams("busy", "overloaded"), option.WithMaxRetries(2))
				apiErr := wantError(t, err, http.StatusServiceUnavailable, "server_error", "overloaded")
				if !strings.Contains(apiErr.Message, "attempt 5 of 5") {
					t.Errorf("message %q does not count the attempts", apiErr.Message)
				}
				c = cc
			}
			wantHeaders(t, c.resp.Header, map[string]string{"X-Should-Retry": "false", "X-Tollgate-Attempts": "5"})
			a, b, s := g.sim(t, "a").Requests("busy"), g.sim(t, "b").Requests("busy"), g.sim(t, "c").Requests("spare")
			if a != 2 || b != 2 || s != 1 {
				t.Errorf("requests a=%d b=%d spare=%d, want 2, 2 and 1 (max_attempts 5 in all)", a, b, s)
			}
			row := logRow(t, g, c)
			if row.Status != 503 || row.Attempts != 5 || row.ErrorType != "overloaded" || !row.Fallback {
				t.Errorf("log row: status %d attempts %d error %q fallback %v", row.Status, row.Attempts, row.ErrorType, row.Fallback)
			}
			if n := strings.Count(row.RetryReasons, "server_error"); n != 5 {
				t.Errorf("retry reasons %q, want 5 server errors", row.RetryReasons)
			}
		})
	}
}

// TestSilentUpstream points a route at an upstream that never answers:
// tollgate gives up on it after one response-header timeout and never
// sends it the request again.
func TestSilentUpstream(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 3s}
channels:
  - name: silent
    provider: simulator
    timeouts: {response_header: 150ms}
    simulator: {default: {fault: {kind: no_response}}}
  - name: ok
    provider: simulator
models:
  - {name: hang, routes: [{channel: silent}, {channel: ok, priority: 1}]}
  - {name: hang-alone, routes: [{channel: silent}]}
`
	for _, stream := range []bool{false, true} {
		t.Run("fails over/stream="+strconv.FormatBool(stream), func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			prompt := "anyone there"
			want := g.sim(t, "ok").Answer("hang", prompt, 0)
			var c call
			if stream {
				r := rawStream(t, g, chatBody("hang", prompt, `"stream":true`))
				r.wantComplete(t, want)
				c = r.call
			} else {
				got, cc, err := sdkChat(t, g, chatParams("hang", prompt))
				if err != nil {
					t.Fatal(err)
				}
				if got.Choices[0].Message.Content != want {
					t.Errorf("content %q, want %q", got.Choices[0].Message.Content, want)
				}
				c = cc
			}
			if c.elapsed < 150*time.Millisecond || c.elapsed > 150*time.Millisecond+slack {
				t.Errorf("answered after %v, want one 150ms header timeout and a quick failover", c.elapsed)
			}
			if n := g.sim(t, "silent").Requests("hang"); n != 1 {
				t.Errorf("the silent route got %d requests, want 1", n)
			}
			wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Attempts": "2", "X-Tollgate-Channel": "ok"})
			row := logRow(t, g, c)
			if row.Status != 200 || row.Attempts != 2 || row.FailedPhase != "response_header" || row.RetryReasons != "#1 silent: timeout" {
				t.Errorf("log row: status %d attempts %d phase %q reasons %q", row.Status, row.Attempts, row.FailedPhase, row.RetryReasons)
			}
		})
	}
	t.Run("only route: 504 naming the phase", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		_, c, err := sdkChat(t, g, chatParams("hang-alone", "anyone at all"))
		apiErr := wantError(t, err, http.StatusGatewayTimeout, "server_error", "upstream_timeout")
		// The phase, the limit, the time waited, the channel and the attempt.
		for _, s := range []string{"response header", "within 150ms", "waited ", "channel silent", "attempt 1 of 3"} {
			if !strings.Contains(apiErr.Message, s) {
				t.Errorf("message %q does not name %q", apiErr.Message, s)
			}
		}
		if c.elapsed > 150*time.Millisecond+slack {
			t.Errorf("took %v, want one 150ms timeout", c.elapsed)
		}
		if n := g.sim(t, "silent").Requests("hang-alone"); n != 1 {
			t.Errorf("the silent route got %d requests, want 1", n)
		}
		row := logRow(t, g, c)
		if row.Status != 504 || row.Attempts != 1 || row.FailedPhase != "response_header" || row.ErrorType != "upstream_timeout" {
			t.Errorf("log row: status %d attempts %d phase %q error %q", row.Status, row.Attempts, row.FailedPhase, row.ErrorType)
		}
	})
}

// TestSlowFirstToken uses an upstream that sends its headers and role at
// once and then nothing: tollgate fails over at the first-token limit,
// and the client sees one clean stream.
func TestSlowFirstToken(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 5s}
channels:
  - name: slow
    provider: simulator
    timeouts: {first_token: 150ms}
    simulator: {default: {fault: {kind: slow_first_token, delay: 3s}}}
  - name: fast
    provider: simulator
models:
  - {name: m, routes: [{channel: slow}, {channel: fast, priority: 1}]}
`
	g := newGateway(t, cfg)
	prompt := "take your time"
	r := rawStream(t, g, chatBody("m", prompt, `"stream":true`))
	r.wantComplete(t, g.sim(t, "fast").Answer("m", prompt, 0))
	if r.elapsed < 150*time.Millisecond || r.elapsed > 150*time.Millisecond+slack {
		t.Errorf("answered after %v, want the 150ms first-token limit and a quick failover", r.elapsed)
	}
	if n := g.sim(t, "slow").Requests("m"); n != 1 {
		t.Errorf("the slow route got %d requests, want 1", n)
	}
	wantHeaders(t, r.resp.Header, map[string]string{"X-Tollgate-Attempts": "2", "X-Tollgate-Channel": "fast"})
	wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Final-Attempts": "2", "X-Tollgate-Final-Channel": "fast"})
	row := logRow(t, g, r.call)
	if row.Status != 200 || row.Attempts != 2 || row.FailedPhase != "first_token" || row.RetryReasons != "#1 slow: timeout" {
		t.Errorf("log row: status %d attempts %d phase %q reasons %q", row.Status, row.Attempts, row.FailedPhase, row.RetryReasons)
	}
}

// TestStreamEndings covers upstream streams that are complete but
// imperfect: a malformed chunk is skipped, a missing [DONE] is supplied
// (with the usage), and the client sees the whole answer.
func TestStreamEndings(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        malformed: {fault: {kind: malformed_chunk, after: 3}}
        no-done:   {fault: {kind: no_done}}
models:
  - {name: malformed, routes: [{channel: a}]}
  - {name: no-done, routes: [{channel: a}]}
`
	for _, model := range []string{"malformed", "no-done"} {
		for _, usage := range []bool{false, true} {
			t.Run(model+"/include_usage="+strconv.FormatBool(usage), func(t *testing.T) {
				t.Parallel()
				g := newGateway(t, cfg)
				prompt := "end it " + model
				want := g.sim(t, "a").Answer(model, prompt, 0)
				extra := `"stream":true`
				if usage {
					extra += `,"stream_options":{"include_usage":true}`
				}
				r := rawStream(t, g, chatBody(model, prompt, extra))
				r.wantComplete(t, want)
				if strings.Contains(r.body, `data: {"id":`+"\n") {
					t.Error("the malformed upstream event reached the client")
				}
				words := int64(len(strings.Fields(want)))
				switch {
				case usage && (r.usage == nil || r.usage.CompletionTokens != words):
					t.Errorf("usage chunk %+v, want %d completion tokens", r.usage, words)
				case !usage && r.usage != nil:
					t.Errorf("usage chunk %+v the client did not ask for", r.usage)
				}
				if n := g.sim(t, "a").Requests(model); n != 1 {
					t.Errorf("upstream got %d requests, want 1", n)
				}
				row := logRow(t, g, r.call)
				if row.Status != 200 || row.Attempts != 1 || row.CompletionTokens != words || row.Truncated {
					t.Errorf("log row: status %d attempts %d completion %d truncated %v", row.Status, row.Attempts, row.CompletionTokens, row.Truncated)
				}
			})
		}
	}
}

func TestContextLengthExceeded(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        small: {fault: {kind: status, status: 400, code: context_length_exceeded}}
  - name: b
    provider: simulator
models:
  - name: small
    routes: [{channel: a}, {channel: b, priority: 1}]
    fallbacks: [{model: large, on: [context_length_exceeded]}]
  - name: small-only
    routes: [{channel: a, model: small}]
    fallbacks: [{model: large}]
  - {name: large, routes: [{channel: b}]}
`
	t.Run("goes to the larger fallback", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		prompt := "a very long prompt"
		got, c, err := sdkChat(t, g, chatParams("small", prompt))
		if err != nil {
			t.Fatal(err)
		}
		if want := g.sim(t, "b").Answer("large", prompt, 0); got.Model != "large" || got.Choices[0].Message.Content != want {
			t.Errorf("answer from %q: %q; want large's %q", got.Model, got.Choices[0].Message.Content, want)
		}
		wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Model": "large", "X-Tollgate-Fallback": "true", "X-Tollgate-Attempts": "2"})
		// Never retried on the same model, not even on its other channel.
		if a, b := g.sim(t, "a").Requests("small"), g.sim(t, "b").Requests("small"); a != 1 || b != 0 {
			t.Errorf("small got a=%d b=%d requests, want 1 and 0", a, b)
		}
		row := logRow(t, g, c)
		if row.Attempts != 2 || !row.Fallback || row.RetryReasons != "#1 a: context_length_exceeded" {
			t.Errorf("log row: attempts %d fallback %v reasons %q", row.Attempts, row.Fallback, row.RetryReasons)
		}
	})
	t.Run("without such a fallback the 400 is returned", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		_, c, err := sdkChat(t, g, chatParams("small-only", "a very long prompt"))
		apiErr := wantError(t, err, http.StatusBadRequest, "invalid_request_error", "context_length_exceeded")
		if !strings.Contains(apiErr.Message, "maximum context length") {
			t.Errorf("message %q lost the upstream's reason", apiErr.Message)
		}
		if a, l := g.sim(t, "a").Requests("small"), g.sim(t, "b").Requests("large"); a != 1 || l != 0 {
			t.Errorf("requests small=%d large=%d, want 1 and 0", a, l)
		}
		row := logRow(t, g, c)
		if row.Status != 400 || row.Attempts != 1 || row.ErrorType != "context_length_exceeded" {
			t.Errorf("log row: status %d attempts %d error %q", row.Status, row.Attempts, row.ErrorType)
		}
	})
}

func TestContentFilter(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
channels:
  - name: a
    provider: simulator
    simulator: {default: {fault: {kind: status, status: 400, code: content_filter}}}
  - name: b
    provider: simulator
models:
  - name: filtered
    routes: [{channel: a}, {channel: b, priority: 1}]
    fallbacks: [{model: other}]
  - {name: other, routes: [{channel: b}]}
`
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			params := chatParams("filtered", "something flagged")
			var c call
			var err error
			if stream {
				r := rawStream(t, g, chatBody("filtered", "something flagged", `"stream":true`))
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "flagged by the content filter") || !strings.Contains(r.body, `"code":"content_filter"`) {
					t.Fatalf("status %d body %s, want the upstream's 400 content_filter", r.status, r.body)
				}
				c = r.call
			} else {
				_, c, err = sdkChat(t, g, params)
				apiErr := wantError(t, err, http.StatusBadRequest, "invalid_request_error", "content_filter")
				if !strings.Contains(apiErr.Message, "flagged by the content filter") {
					t.Errorf("message %q lost the upstream's reason", apiErr.Message)
				}
			}
			if a, b, o := g.sim(t, "a").Requests("filtered"), g.sim(t, "b").Requests("filtered"), g.sim(t, "b").Requests("other"); a != 1 || b != 0 || o != 0 {
				t.Errorf("requests a=%d b=%d other=%d, want 1, 0, 0: a content filter verdict is not retried", a, b, o)
			}
			row := logRow(t, g, c)
			if row.Status != 400 || row.Attempts != 1 || row.ErrorType != "content_filter" {
				t.Errorf("log row: status %d attempts %d error %q", row.Status, row.Attempts, row.ErrorType)
			}
		})
	}
}

// TestFlappingPrimary takes the primary down and up again: during the
// outage the circuit opens and requests go straight to the secondary (or
// the fallback model), and once the primary recovers it serves again
// within a couple of cooldowns.
func TestFlappingPrimary(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 2s}
  circuit: {consecutive_failures: 2, failure_ratio: 0, cooldown: 200ms, max_cooldown: 200ms}
channels:
  - {name: primary, provider: simulator}
  - {name: secondary, provider: simulator}
models:
  - {name: m, routes: [{channel: primary}, {channel: secondary, priority: 1}]}
  - name: solo
    routes: [{channel: primary}]
    fallbacks: [{model: spare}]
  - {name: spare, routes: [{channel: secondary}]}
`
	tests := []struct {
		model    string
		upstream string // the model name the primary serves
		backup   string // the model the secondary serves
		fallback string
	}{
		{model: "m", upstream: "m", backup: "m", fallback: "false"},
		{model: "solo", upstream: "solo", backup: "spare", fallback: "true"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			primary := g.sim(t, "primary")
			ask := func(i int) call {
				t.Helper()
				got, c, err := sdkChat(t, g, chatParams(tt.model, "flap "+strconv.Itoa(i)))
				if err != nil {
					t.Fatalf("request %d failed: %v", i, err)
				}
				if len(got.Choices) != 1 || got.Choices[0].Message.Content == "" {
					t.Fatalf("request %d: empty answer", i)
				}
				return c
			}
			if c := ask(0); c.header("X-Tollgate-Channel") != "primary" {
				t.Fatalf("healthy primary not used: served by %s", c.header("X-Tollgate-Channel"))
			}

			primary.SetProfile(tt.upstream, simupstream.Profile{Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 503}})
			key := "primary/" + tt.upstream
			i := 1
			for ; circuit(g, key).State != breaker.Open; i++ {
				if i > 5 {
					t.Fatalf("circuit %s still %v after %d failing requests", key, circuit(g, key).State, i)
				}
				c := ask(i) // the outage is invisible to the client
				wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Channel": "secondary", "X-Tollgate-Model": tt.backup})
			}
			// While the circuit is open no attempt is wasted on the primary.
			checked := 0
			for ; checked < 3; i++ {
				snap := circuit(g, key)
				before := primary.Requests(tt.upstream)
				c := ask(i)
				if snap.State != breaker.Open || time.Until(snap.OpenUntil) < 50*time.Millisecond {
					break // the cooldown is ending; a probe may go now
				}
				checked++
				wantHeaders(t, c.resp.Header, map[string]string{"X-Tollgate-Channel": "secondary", "X-Tollgate-Attempts": "1",
					"X-Tollgate-Model": tt.backup, "X-Tollgate-Fallback": tt.fallback})
				if after := primary.Requests(tt.upstream); after != before {
					t.Errorf("the open primary got %d requests during request %d", after-before, i)
				}
			}
			if checked == 0 {
				t.Fatal("the circuit never stayed open long enough to check a request (machine too slow?)")
			}

			primary.SetProfile(tt.upstream, simupstream.Profile{})
			recovered := time.Now()
			for deadline := recovered.Add(3 * time.Second); ; i++ {
				if time.Now().After(deadline) {
					t.Fatalf("the primary did not serve again within 3s of recovering (circuit %v)", circuit(g, key).State)
				}
				if c := ask(i); c.header("X-Tollgate-Channel") == "primary" {
					break
				}
			}
			t.Logf("primary served again %v after recovering", time.Since(recovered).Round(time.Millisecond))
			if s := circuit(g, key).State; s != breaker.Closed {
				t.Errorf("circuit %v after the primary served, want closed", s)
			}
		})
	}
}

// circuit returns the breaker snapshot of one circuit key.
func circuit(g *gateway, key string) breaker.Snapshot {
	for _, s := range g.app.Breaker.Snapshot() {
		if s.Channel == key {
			return s
		}
	}
	return breaker.Snapshot{Channel: key}
}

// TestKeepAlive checks the comments that keep a slow stream open, and that
// an attempt failing after them is retried transparently.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 5s}
  keepalive_interval: 50ms
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        slow:       {first_token_delay: 300ms}
        late-error: {latency: 200ms, fault: {kind: status, status: 500, times: 1}}
  - name: stuck
    provider: simulator
    timeouts: {first_token: 200ms}
    simulator: {default: {fault: {kind: slow_first_token, delay: 3s}}}
models:
  - {name: slow, routes: [{channel: a}]}
  - {name: late-error, routes: [{channel: a}]}
  - {name: stuck, routes: [{channel: stuck}, {channel: a, priority: 1}]}
`
	tests := []struct {
		name     string
		model    string
		channel  string // that answers
		attempts string
	}{
		{name: "slow first token on the only channel", model: "slow", channel: "a", attempts: "1"},
		{name: "an error after keep-alives is retried", model: "late-error", channel: "a", attempts: "2"},
		{name: "a first-token timeout after keep-alives fails over", model: "stuck", channel: "a", attempts: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			prompt := "keep me alive " + tt.name
			r := rawStream(t, g, chatBody(tt.model, prompt, `"stream":true`))
			r.wantComplete(t, g.sim(t, tt.channel).Answer(tt.model, prompt, 0))
			ka, data := strings.Index(r.body, ": keep-alive\n"), strings.Index(r.body, "data: ")
			if ka < 0 || ka > data {
				t.Fatalf("no keep-alive comment before the first event:\n%s", r.body)
			}
			if n := strings.Count(r.body[:data], ": keep-alive\n"); n < 2 {
				t.Errorf("%d keep-alives before the first event, want several at 50ms", n)
			}
			wantHeaders(t, r.resp.Trailer, map[string]string{"X-Tollgate-Final-Attempts": tt.attempts, "X-Tollgate-Final-Channel": tt.channel,
				"X-Tollgate-Continued": "false"})
			row := logRow(t, g, r.call)
			if row.Status != 200 || strconv.Itoa(row.Attempts) != tt.attempts || row.Truncated || row.ErrorType != "" {
				t.Errorf("log row: status %d attempts %d truncated %v error %q", row.Status, row.Attempts, row.Truncated, row.ErrorType)
			}
		})
	}
	t.Run("sdk", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		got := sdkStream(t, g, chatParams("late-error", "sdk through keep-alives"))
		if want := g.sim(t, "a").Answer("late-error", "sdk through keep-alives", 0); got.err != nil || got.text != want {
			t.Fatalf("SDK got %q, %v; want %q", got.text, got.err, want)
		}
	})
}

// TestFailoverIsNotARetry sends a stream of requests to a primary that
// times out on every other one, below any circuit threshold: each failure
// fails over to the backup, which has never seen the request, so the retry
// budget (which bounds repeats into a channel) must not stop it.
func TestFailoverIsNotARetry(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  retry_budget: {ratio: 0.2, window: 10s, min_per_second: 1}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
channels:
  - name: primary
    provider: simulator
    timeouts: {response_header: 30ms}
    simulator: {default: {fault: {kind: no_response, every: 2}}}
  - {name: backup, provider: simulator}
models:
  - {name: m, routes: [{channel: primary}, {channel: backup, priority: 1}]}
`
	g := newGateway(t, cfg)
	const n = 30 // 15 failovers, more than the budget's floor of 10 retries per window
	for i := range n {
		if _, _, err := sdkChat(t, g, chatParams("m", "flaky "+strconv.Itoa(i))); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if p, b := g.sim(t, "primary").Requests("m"), g.sim(t, "backup").Requests("m"); p != n || b != n/2 {
		t.Errorf("requests primary=%d backup=%d, want %d and %d", p, b, n, n/2)
	}
}

// TestIdempotencyKey checks that a request carrying an Idempotency-Key runs
// at most once per key and API key: a repeat while it runs gets 409, a
// repeat after it finished gets the stored answer (a stream replayed as a
// stream), the key with another body 422, and a failure releases the key.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 3s}
channels:
  - name: a
    provider: simulator
    simulator:
      models:
        slow:     {latency: 300ms}
        err-once: {fault: {kind: status, status: 500, times: 1}}
        down:     {fault: {kind: status, status: 503}}
models:
  - {name: slow, routes: [{channel: a}]}
  - {name: err-once, routes: [{channel: a}]}
  - {name: down, routes: [{channel: a}]}
`
	withKey := func(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

	t.Run("409 while running, then the stored answer", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		sim := g.sim(t, "a")
		body := chatBody("slow", "only once please", "")
		type result struct {
			resp *http.Response
			body []byte
			err  error
		}
		first := make(chan result, 1)
		go func() { // no t.Fatal off the test goroutine: the error travels back
			var r result
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, g.srv.URL+"/v1/chat/completions", strings.NewReader(body))
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+g.key)
				req.Header.Set("Idempotency-Key", "k-1")
				if r.resp, r.err = g.srv.Client().Do(req); r.err == nil {
					r.body, r.err = io.ReadAll(r.resp.Body)
					_ = r.resp.Body.Close()
				}
			}
			first <- r
		}()
		for deadline := time.Now().Add(2 * time.Second); sim.Requests("slow") == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the first request never reached the upstream")
			}
		}
		resp, b := g.do(t, http.MethodPost, "/v1/chat/completions", body, withKey("k-1"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"code":"idempotency_in_progress"`) {
			t.Errorf("repeat while running: %d %s, want 409 idempotency_in_progress", resp.StatusCode, b)
		}
		checkEnvelope(t, resp, b)
		orig := <-first
		if orig.err != nil {
			t.Fatalf("first request: %v", orig.err)
		}
		if orig.resp.StatusCode != http.StatusOK {
			t.Fatalf("first request: %d %s", orig.resp.StatusCode, orig.body)
		}
		resp, b = g.do(t, http.MethodPost, "/v1/chat/completions", body, withKey("k-1"))
		if resp.StatusCode != http.StatusOK || string(b) != string(orig.body) {
			t.Errorf("repeat after: %d %s\nwant the stored %s", resp.StatusCode, b, orig.body)
		}
		wantHeaders(t, resp.Header, map[string]string{"X-Tollgate-Idempotent-Replay": "true", "Content-Type": "application/json",
			"X-Tollgate-Channel": "a", "X-Tollgate-Attempts": "1"})
		if n := sim.Requests("slow"); n != 1 {
			t.Errorf("the upstream got %d requests, want 1", n)
		}
		// Another body under the same key is refused; another API key has
		// its own keys.
		resp, b = g.do(t, http.MethodPost, "/v1/chat/completions", chatBody("slow", "something else", ""), withKey("k-1"))
		if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusConflict {
			t.Errorf("same key, other body: %d %s, want 422 or 409", resp.StatusCode, b)
		}
		other := withKey("k-1")
		other.Set("Authorization", "Bearer "+g.newKey(t, store.Key{}))
		if resp, b = g.do(t, http.MethodPost, "/v1/chat/completions", body, other); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Tollgate-Idempotent-Replay") != "" {
			t.Errorf("another API key with the same Idempotency-Key: %d %s, want a fresh answer", resp.StatusCode, b)
		}
		if n := sim.Requests("slow"); n != 2 {
			t.Errorf("the upstream got %d requests, want 2", n)
		}
	})
	t.Run("a stream is replayed as a stream, internal retries included", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		sim := g.sim(t, "a")
		const prompt = "stream once"
		body := chatBody("err-once", prompt, `"stream":true`)
		resp, b := g.do(t, http.MethodPost, "/v1/chat/completions", body, withKey("k-2"))
		orig := sseResult{status: resp.StatusCode, body: string(b)}
		orig.parse()
		orig.wantComplete(t, sim.Answer("err-once", prompt, 0))

		resp, b = g.do(t, http.MethodPost, "/v1/chat/completions", body, withKey("k-2"))
		again := sseResult{status: resp.StatusCode, body: string(b)}
		again.parse()
		if strings.Join(again.events, "\n") != strings.Join(orig.events, "\n") {
			t.Errorf("replayed events:\n%s\nwant the original:\n%s", again.body, orig.body)
		}
		wantHeaders(t, resp.Header, map[string]string{"X-Tollgate-Idempotent-Replay": "true", "Content-Type": "text/event-stream",
			"X-Tollgate-Attempts": "2", "X-Tollgate-Channel": "a"})
		// Through the SDK: the first stream runs, the repeat is replayed.
		for i := range 2 {
			sdk := sdkStream(t, g, chatParams("err-once", prompt+" sdk"), option.WithHeader("Idempotency-Key", "k-sdk"))
			if want := sim.Answer("err-once", prompt+" sdk", 0); sdk.err != nil || sdk.text != want {
				t.Errorf("SDK stream %d: %q, %v; want %q", i, sdk.text, sdk.err, want)
			}
		}
		if n := sim.Requests("err-once"); n != 3 {
			t.Errorf("the upstream got %d requests, want 3: the raw stream's first attempt and tollgate's retry, and the SDK's first stream", n)
		}
	})
	t.Run("a failure releases the key", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, cfg)
		sim := g.sim(t, "a")
		body := chatBody("down", "try later", "")
		for i := 1; i <= 2; i++ {
			resp, b := g.do(t, http.MethodPost, "/v1/chat/completions", body, withKey("k-3"))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Tollgate-Idempotent-Replay") != "" {
				t.Errorf("try %d: %d %s, want a fresh 503", i, resp.StatusCode, b)
			}
			// One channel takes a request at most twice.
			if n := sim.Requests("down"); n != 2*i {
				t.Errorf("after try %d the upstream got %d requests, want %d", i, n, 2*i)
			}
		}
	})
}

// TestTotalDeadline gives a request less time in total than its upstream
// phases allow: the total deadline ends it, with a 504 that names the
// total phase, and the log says so too.
func TestTotalDeadline(t *testing.T) {
	t.Parallel()
	const cfg = retryBase + `
  timeouts: {total: 300ms, response_header: 10s}
channels:
  - name: a
    provider: simulator
    simulator: {default: {fault: {kind: no_response}}}
models:
  - {name: m, routes: [{channel: a}]}
`
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, cfg)
			start := time.Now()
			resp, b := g.do(t, http.MethodPost, "/v1/chat/completions", chatBody("m", "too slow", fmt.Sprintf(`"stream":%v`, stream)), nil)
			elapsed := time.Since(start)
			if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), `"code":"timeout"`) {
				t.Fatalf("%d %s, want 504 timeout", resp.StatusCode, b)
			}
			checkEnvelope(t, resp, b)
			for _, s := range []string{"total phase", "300ms", "channel a", "attempt 1"} {
				if !strings.Contains(string(b), s) {
					t.Errorf("message %s does not name %q", b, s)
				}
			}
			if elapsed < 300*time.Millisecond || elapsed > 300*time.Millisecond+slack {
				t.Errorf("answered after %v, want the 300ms total deadline", elapsed)
			}
			row := logRow(t, g, call{resp: resp})
			if row.Status != 504 || row.Attempts != 1 || row.FailedPhase != "total" || row.RetryReasons != "#1 a: timeout" {
				t.Errorf("log row: status %d attempts %d phase %q reasons %q; want 504, 1, total, #1 a: timeout",
					row.Status, row.Attempts, row.FailedPhase, row.RetryReasons)
			}
		})
	}
}
