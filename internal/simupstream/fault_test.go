package simupstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

const streamUsageOpt = `"stream":true,"stream_options":{"include_usage":true}`

// faultCase is one injected fault and what a client must observe.
type faultCase struct {
	name  string
	fault Fault
	check func(t *testing.T, c conn, sim *Simulator, model string)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	cases := []faultCase{
		{"status 429 with retry-after", Fault{Kind: FaultStatus, Status: 429, RetryAfter: 1500 * time.Millisecond}, checkStatus(429, "requests", "rate_limit_exceeded", "", "2", "1500")},
		{"status 400 context length", Fault{Kind: FaultStatus, Status: 400, Code: "context_length_exceeded"}, checkStatus(400, "invalid_request_error", "context_length_exceeded", "messages", "", "")},
		{"status 503", Fault{Kind: FaultStatus, Status: 503}, checkStatus(503, "server_error", "", "", "", "")},
		{"status defaults to 500", Fault{Kind: FaultStatus}, checkStatus(500, "server_error", "", "", "", "")},
		{"reset", Fault{Kind: FaultReset}, checkReset},
		{"no response honours cancel", Fault{Kind: FaultNoResponse}, checkNoResponse},
		{"slow first token", Fault{Kind: FaultSlowFirstToken, Delay: time.Millisecond}, checkHealthy},
		{"stall with delay", Fault{Kind: FaultStall, After: 2, Delay: time.Millisecond}, checkHealthy},
		{"stall until client leaves", Fault{Kind: FaultStall, After: 2}, checkStallUntilCancel},
		{"cut", Fault{Kind: FaultCut, After: 3}, checkCut},
		{"malformed chunk", Fault{Kind: FaultMalformedChunk, After: 2}, checkMalformed},
		{"no done", Fault{Kind: FaultNoDone}, checkNoDone},
		{"no usage", Fault{Kind: FaultNoUsage}, checkNoUsage},
	}
	profiles := make(map[string]Profile)
	for _, fc := range cases {
		profiles[fc.name] = Profile{Length: 6, Fault: fc.fault}
	}
	sim := New(Options{Profiles: profiles})
	for _, c := range conns(t, sim) {
		for _, fc := range cases {
			t.Run(c.name+"/"+fc.name, func(t *testing.T) {
				fc.check(t, c, sim, fc.name)
			})
		}
	}
}

func checkStatus(status int, typ, code, param, retryAfter, retryAfterMs string) func(*testing.T, conn, *Simulator, string) {
	return func(t *testing.T, c conn, _ *Simulator, model string) {
		for _, extra := range []string{"", `"stream":true`} {
			resp, body := c.mustDo(t, "/chat/completions", chatBody(model, "hi", extra))
			if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, resp.Header.Get("Content-Type"), status)
			}
			if got := resp.Header.Get("Retry-After"); got != retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, retryAfter)
			}
			if got := resp.Header.Get("Retry-After-Ms"); got != retryAfterMs {
				t.Errorf("retry-after-ms = %q, want %q", got, retryAfterMs)
			}
			e := decodeJSON[openai.ErrorResponse](t, body).Error
			if e.Type != typ || deref(e.Code) != code || deref(e.Param) != param || e.Message == "" {
				t.Errorf("error = %s", body)
			}
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func checkReset(t *testing.T, c conn, _ *Simulator, model string) {
	resp, err := c.do(t.Context(), "/chat/completions", chatBody(model, "hi", ""))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a connection error", resp.StatusCode)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("err = %v, want ECONNRESET", err)
	}
}

func checkNoResponse(t *testing.T, c conn, _ *Simulator, model string) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	resp, err := c.do(ctx, "/chat/completions", chatBody(model, "hi", ""))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the client's deadline", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

// checkHealthy requires complete answers despite the fault (delays only).
func checkHealthy(t *testing.T, c conn, sim *Simulator, model string) {
	want := sim.Answer(model, "hi", 0)
	_, body := c.mustDo(t, "/chat/completions", chatBody(model, "hi", ""))
	if got := decodeJSON[openai.ChatCompletion](t, body); *got.Choices[0].Message.Content != want {
		t.Errorf("non-stream content = %q, want %q", *got.Choices[0].Message.Content, want)
	}
	r := streamChat(t, c, model, streamUsageOpt)
	if r.err != nil || !r.done || r.content != want || r.usage == nil {
		t.Errorf("stream: err=%v done=%v content=%q usage=%v; want %q", r.err, r.done, r.content, r.usage, want)
	}
}

// chatStream is what a client read from a chat stream.
type chatStream struct {
	events  []string
	err     error
	done    bool
	content string
	pieces  []string // non-empty content deltas, in order
	usage   *openai.Usage
	finish  string
	bad     int // events that are not JSON
}

func streamChat(t *testing.T, c conn, model, extra string) chatStream {
	t.Helper()
	resp, err := c.do(t.Context(), "/chat/completions", chatBody(model, "hi", extra))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	return readChatStream(resp.Body)
}

// readChatStream reads and decodes a chat stream.
func readChatStream(body io.Reader) chatStream {
	var r chatStream
	r.events, r.err = readEvents(body)
	for _, ev := range r.events {
		if ev == "[DONE]" {
			r.done = true
			continue
		}
		var ch openai.ChatCompletionChunk
		if err := ch.UnmarshalJSON([]byte(ev)); err != nil {
			r.bad++
			continue
		}
		for _, choice := range ch.Choices {
			if choice.Delta.Content != nil {
				r.content += *choice.Delta.Content
				if *choice.Delta.Content != "" {
					r.pieces = append(r.pieces, *choice.Delta.Content)
				}
			}
			if choice.FinishReason != nil {
				r.finish = *choice.FinishReason
			}
		}
		if ch.Usage != nil {
			r.usage = ch.Usage
		}
	}
	return r
}

func checkStallUntilCancel(t *testing.T, c conn, _ *Simulator, model string) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp, err := c.do(ctx, "/chat/completions", chatBody(model, "hi", `"stream":true`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for n := 0; n < 3; { // role chunk + 2 tokens, then the stall
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		if strings.HasPrefix(line, "data: ") {
			n++
		}
	}
	cancel()
	if _, err := io.ReadAll(br); err == nil {
		t.Error("stream ended cleanly after the client cancelled")
	}
}

func checkCut(t *testing.T, c conn, sim *Simulator, model string) {
	r := streamChat(t, c, model, streamUsageOpt)
	words := strings.Fields(sim.Answer(model, "hi", 0))
	if !errors.Is(r.err, io.ErrUnexpectedEOF) || r.done || r.content != strings.Join(words[:3], " ") {
		t.Errorf("stream: err=%v done=%v content=%q; want unexpected EOF after 3 tokens", r.err, r.done, r.content)
	}
	if c.name == "transport" && !errors.Is(r.err, syscall.ECONNRESET) {
		t.Errorf("transport err = %v, want ECONNRESET too", r.err)
	}
	resp, err := c.do(t.Context(), "/chat/completions", chatBody(model, "hi", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("non-stream body read err = %v, want unexpected EOF", err)
	}
}

func checkMalformed(t *testing.T, c conn, sim *Simulator, model string) {
	r := streamChat(t, c, model, `"stream":true`)
	if r.err != nil || !r.done || r.bad != 1 || r.events[3] != `{"id":` || r.content != sim.Answer(model, "hi", 0) {
		t.Errorf("stream: err=%v done=%v bad=%d events=%q", r.err, r.done, r.bad, r.events)
	}
	resp, body := c.mustDo(t, "/chat/completions", chatBody(model, "hi", ""))
	if resp.StatusCode != http.StatusOK || string(body) != `{"id":` {
		t.Errorf("non-stream: %d %q", resp.StatusCode, body)
	}
}

func checkNoDone(t *testing.T, c conn, sim *Simulator, model string) {
	r := streamChat(t, c, model, streamUsageOpt)
	if r.err != nil || r.done || r.finish != "stop" || r.usage == nil || r.content != sim.Answer(model, "hi", 0) {
		t.Errorf("stream: err=%v done=%v finish=%q usage=%v", r.err, r.done, r.finish, r.usage)
	}
}

func checkNoUsage(t *testing.T, c conn, _ *Simulator, model string) {
	r := streamChat(t, c, model, streamUsageOpt)
	for _, ev := range r.events {
		if strings.Contains(ev, `"usage"`) {
			t.Errorf("usage in stream: %s", ev)
		}
	}
	if r.err != nil || !r.done || r.finish != "stop" {
		t.Errorf("stream: err=%v done=%v finish=%q", r.err, r.done, r.finish)
	}
	for _, path := range []string{"/chat/completions", "/completions", "/embeddings"} {
		body := chatBody(model, "hi", "")
		if path != "/chat/completions" {
			body = `{"model":"` + model + `","prompt":"hi","input":"hi"}`
		}
		_, got := c.mustDo(t, path, body)
		if _, ok := keysOf(t, got)["usage"]; ok {
			t.Errorf("%s: usage in body %s", path, got)
		}
	}
}
