package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/redact"
	"github.com/tollgate/tollgate/internal/simupstream"
)

// newSimAdapter returns an adapter talking to sim in-process.
func newSimAdapter(t *testing.T, sim *simupstream.Simulator, to provider.Timeouts) *Adapter {
	t.Helper()
	a, err := New(Options{Channel: "gem", BaseURL: "http://sim.invalid/v1beta",
		Client: &http.Client{Transport: simupstream.Transport(sim)}, Timeouts: to})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func chatBody(model, prompt string, stream bool, extra string) []byte {
	b := `{"model":"` + model + `","messages":[{"role":"user","content":"` + prompt + `"}]`
	if stream {
		b += `,"stream":true`
	}
	return []byte(b + extra + "}")
}

// drain reads a stream to its end, returning the assembled text and the
// final error (nil for a clean io.EOF).
func drain(t *testing.T, st provider.Stream) (string, string, error) {
	t.Helper()
	defer st.Close()
	var text strings.Builder
	finish := ""
	for {
		ev, err := st.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return text.String(), finish, nil
		}
		if err != nil {
			return text.String(), finish, err
		}
		var c openai.ChatCompletionChunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			t.Fatalf("chunk %s: %v", ev.Data, err)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
}

func TestAdapterAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"m-429":     {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 429, RetryAfter: 2 * time.Second}},
		"m-day":     {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 429, Code: "insufficient_quota"}},
		"m-key":     {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 401}},
		"m-ctx":     {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 400, Code: "context_length_exceeded"}},
		"m-503":     {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 503}},
		"m-block":   {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 400, Code: "content_filter"}},
		"m-nodone":  {Fault: simupstream.Fault{Kind: simupstream.FaultNoDone}},
		"m-cut":     {Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 2}},
		"m-bad":     {Fault: simupstream.Fault{Kind: simupstream.FaultMalformedChunk, After: 2}},
		"m-hang":    {Fault: simupstream.Fault{Kind: simupstream.FaultNoResponse}},
		"m-slow":    {Fault: simupstream.Fault{Kind: simupstream.FaultSlowFirstToken, Delay: time.Hour}},
		"m-stall":   {Fault: simupstream.Fault{Kind: simupstream.FaultStall, After: 3}},
		"m-stall-1": {Fault: simupstream.Fault{Kind: simupstream.FaultStall, After: 3}},
	}})
	to := provider.Timeouts{ResponseHeader: 50 * time.Millisecond, FirstToken: 50 * time.Millisecond, Idle: 50 * time.Millisecond}
	a := newSimAdapter(t, sim, to)
	type want struct {
		kind   provider.Kind
		phase  provider.Phase
		status int
		code   string
		retry  time.Duration
	}
	tests := []struct {
		name   string
		model  string
		stream bool
		want   *want // nil: success with the simulator's answer
	}{
		{name: "chat", model: "m"},
		{name: "stream", model: "m", stream: true},
		{name: "rate limit with RetryInfo", model: "m-429", want: &want{kind: provider.KindStatus, status: 429, code: codeRateLimit, retry: 2 * time.Second}},
		{name: "per-day quota", model: "m-day", want: &want{kind: provider.KindStatus, status: 429, code: codeQuota}},
		{name: "bad key is upstream auth", model: "m-key", want: &want{kind: provider.KindStatus, status: 401, code: codeInvalidKey}},
		{name: "context length", model: "m-ctx", want: &want{kind: provider.KindStatus, status: 400, code: codeContextLength}},
		{name: "overloaded", model: "m-503", stream: true, want: &want{kind: provider.KindStatus, status: 503}},
		{name: "prompt blocked", model: "m-block", want: &want{kind: provider.KindStatus, phase: provider.PhaseBody, status: 400, code: codeContentFilter}},
		{name: "prompt blocked in stream", model: "m-block", stream: true, want: &want{kind: provider.KindStatus, phase: provider.PhaseFirstToken, status: 400, code: codeContentFilter}},
		{name: "stream without finishReason", model: "m-nodone", stream: true, want: &want{kind: provider.KindTruncated, phase: provider.PhaseIdle}},
		{name: "stream cut", model: "m-cut", stream: true, want: &want{kind: provider.KindNetwork, phase: provider.PhaseIdle}},
		{name: "malformed event", model: "m-bad", stream: true, want: &want{kind: provider.KindMalformed, phase: provider.PhaseIdle}},
		{name: "response header timeout", model: "m-hang", want: &want{kind: provider.KindTimeout, phase: provider.PhaseResponseHeader}},
		{name: "first token timeout", model: "m-slow", stream: true, want: &want{kind: provider.KindTimeout, phase: provider.PhaseFirstToken}},
		{name: "idle timeout", model: "m-stall", stream: true, want: &want{kind: provider.KindTimeout, phase: provider.PhaseIdle}},
		{name: "non-stream stall", model: "m-stall-1", want: &want{kind: provider.KindTimeout, phase: provider.PhaseResponseHeader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prompt := "tell me about " + strings.ReplaceAll(tt.name, " ", "_")
			resp, err := a.Do(t.Context(), &provider.Request{Endpoint: provider.EndpointChat,
				Body: chatBody(tt.model, prompt, tt.stream, ""), Stream: tt.stream})
			var text, finish string
			switch {
			case err == nil && tt.stream:
				text, finish, err = drain(t, resp.Stream)
			case err == nil:
				var c openai.ChatCompletion
				if jerr := json.Unmarshal(resp.Body, &c); jerr != nil || len(c.Choices) != 1 || c.Choices[0].Message.Content == nil {
					t.Fatalf("answer %s: %v", resp.Body, jerr)
				}
				text, finish = *c.Choices[0].Message.Content, c.Choices[0].FinishReason
				if c.Usage == nil || c.Usage.CompletionTokens != int64(len(strings.Fields(text))) {
					t.Errorf("usage = %+v for %q", c.Usage, text)
				}
			}
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if w := sim.Answer(tt.model, prompt, 0); text != w || finish != "stop" {
					t.Errorf("got %q (%s), want %q (stop)", text, finish, w)
				}
				return
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want a *provider.Error", err)
			}
			w := tt.want
			if pe.Kind != w.kind || (w.phase != "" && pe.Phase != w.phase) || (w.status != 0 && pe.Status != w.status) ||
				pe.Code != w.code || pe.RetryAfter != w.retry {
				t.Errorf("error = %+v, want %+v", pe, *w)
			}
		})
	}
}

func TestAdapterToolCallAndEmbeddings(t *testing.T) {
	t.Parallel()
	sim := simupstream.New(simupstream.Options{})
	a := newSimAdapter(t, sim, provider.Timeouts{})
	tools := `,"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]`
	for _, stream := range []bool{false, true} {
		resp, err := a.Do(t.Context(), &provider.Request{Endpoint: provider.EndpointChat,
			Body: chatBody("m", "find the weather", stream, tools), Stream: stream})
		if err != nil {
			t.Fatal(err)
		}
		var calls []openai.ToolCall
		finish := ""
		if stream {
			for {
				ev, err := resp.Stream.Next(t.Context())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				var c openai.ChatCompletionChunk
				_ = json.Unmarshal(ev.Data, &c)
				for _, ch := range c.Choices {
					calls = append(calls, ch.Delta.ToolCalls...)
					if ch.FinishReason != nil {
						finish = *ch.FinishReason
					}
				}
			}
			resp.Stream.Close()
		} else {
			var c openai.ChatCompletion
			_ = json.Unmarshal(resp.Body, &c)
			calls, finish = c.Choices[0].Message.ToolCalls, c.Choices[0].FinishReason
		}
		if len(calls) != 1 || calls[0].Function.Name != "lookup" || calls[0].Function.Arguments != `{"query":"find the weather"}` ||
			!strings.HasPrefix(calls[0].ID, "call_") || finish != "tool_calls" {
			t.Errorf("stream=%v: calls %+v finish %q", stream, calls, finish)
		}
	}
	for _, enc := range []string{"float", "base64"} {
		resp, err := a.Do(t.Context(), &provider.Request{Endpoint: provider.EndpointEmbeddings,
			Body: []byte(`{"model":"e","input":["a b","c"],"dimensions":8,"encoding_format":"` + enc + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var er openai.EmbeddingResponse
		if err := json.Unmarshal(resp.Body, &er); err != nil || len(er.Data) != 2 {
			t.Fatalf("%s: %s %v", enc, resp.Body, err)
		}
		v, err := er.Data[1].Floats()
		if err != nil || len(v) != 8 {
			t.Errorf("%s: vector %v %v", enc, v, err)
		}
		if isString := er.Data[0].Embedding[0] == '"'; isString != (enc == "base64") {
			t.Errorf("%s: embedding %s", enc, er.Data[0].Embedding)
		}
	}
}

func TestAdapterSendsKeyAndPath(t *testing.T) {
	t.Parallel()
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}]}`)
	}))
	t.Cleanup(srv.Close)
	a, err := New(Options{Channel: "gem", BaseURL: srv.URL + "/v1beta/", APIKey: redact.Secret("AIza-test"), Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Do(t.Context(), &provider.Request{Endpoint: provider.EndpointChat, Body: chatBody("models/gemini-2.5-flash", "hi", false, "")}); err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/v1beta/models/gemini-2.5-flash:generateContent" || got.Header.Get("x-goog-api-key") != "AIza-test" ||
		got.Header.Get("Authorization") != "" {
		t.Errorf("request %s %v", got.URL, got.Header)
	}
	if _, err := a.Do(t.Context(), &provider.Request{Endpoint: provider.EndpointCompletions, Body: []byte(`{}`)}); err == nil {
		t.Error("legacy completions accepted")
	}
}
