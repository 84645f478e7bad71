package simupstream

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/openai"
)

// prefillBody builds a chat request whose messages end with last (a JSON
// message object), after a system and a user message.
func prefillBody(model, prompt, last, extra string) string {
	b, _ := json.Marshal(prompt)
	s := `{"model":"` + model + `","messages":[{"role":"system","content":"be brief"},{"role":"user","content":` +
		string(b) + `},` + last + `]`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// assistant is an assistant message with text content p.
func assistant(p string) string {
	b, _ := json.Marshal(p)
	return `{"role":"assistant","content":` + string(b) + `}`
}

func TestPrefillContinuesTheAnswer(t *testing.T) {
	t.Parallel()
	const model, prompt = "m", "continue this answer please"
	sim := New(Options{Default: Profile{Length: 10}})
	full := sim.Answer(model, prompt, 0)
	words := strings.Fields(full)
	three := strings.Join(words[:3], " ")
	k := 1 // a word of at least 2 letters to split inside
	for len(words[k]) < 2 {
		k++
	}
	inside := strings.Join(words[:k], " ") + " " + words[k][:1]
	clipped := sim.Answer(model, prompt, 4)
	tests := []struct {
		name       string
		last       string // final message
		extra      string
		want       string // the answer's text
		wantFirst  string // first content piece
		wantPieces int    // completion tokens
		wantFinish string
	}{
		{"word boundary", assistant(three), "", full[len(three):], " " + words[3], 7, "stop"},
		{"inside a word", assistant(inside), "", full[len(inside):], words[k][1:], 10 - k, "stop"},
		{"empty prefill", assistant(""), "", full, words[0], 10, "stop"},
		{"whole answer delivered", assistant(full), "", "", "", 0, "stop"},
		{"not a prefix answers in full", assistant("something else entirely"), "", full, words[0], 10, "stop"},
		{"longer than the answer", assistant(full + " and more"), "", full, words[0], 10, "stop"},
		{"array content", `{"role":"assistant","content":[{"type":"text","text":` + string(must(json.Marshal(three))) + `}]}`,
			"", full[len(three):], " " + words[3], 7, "stop"},
		{"same length rules", assistant(strings.Join(words[:2], " ")), `"max_tokens":4`,
			clipped[len(strings.Join(words[:2], " ")):], " " + words[2], 2, "length"},
		{"tool call message is no prefill",
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}`,
			"", full, words[0], 10, "stop"},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, body := c.mustDo(t, "/chat/completions", prefillBody(model, prompt, tt.last, tt.extra))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				got := decodeJSON[openai.ChatCompletion](t, body)
				ch := got.Choices[0]
				if ch.Message.Content == nil || *ch.Message.Content != tt.want || ch.FinishReason != tt.wantFinish {
					t.Errorf("non-stream = %q (%s), want %q (%s)", deref(ch.Message.Content), ch.FinishReason, tt.want, tt.wantFinish)
				}
				if got.Usage == nil || got.Usage.CompletionTokens != int64(tt.wantPieces) {
					t.Errorf("non-stream usage = %+v, want %d completion tokens", got.Usage, tt.wantPieces)
				}

				extra := streamUsageOpt
				if tt.extra != "" {
					extra += "," + tt.extra
				}
				sresp, err := c.do(t.Context(), "/chat/completions", prefillBody(model, prompt, tt.last, extra))
				if err != nil {
					t.Fatal(err)
				}
				defer sresp.Body.Close()
				r := readChatStream(sresp.Body)
				if r.err != nil || !r.done || r.content != tt.want || r.finish != tt.wantFinish {
					t.Errorf("stream: err=%v done=%v content=%q finish=%q; want %q", r.err, r.done, r.content, r.finish, tt.want)
				}
				if len(r.pieces) != tt.wantPieces || (tt.wantPieces > 0 && r.pieces[0] != tt.wantFirst) {
					t.Errorf("stream pieces = %q, want %d starting with %q", r.pieces, tt.wantPieces, tt.wantFirst)
				}
				if r.usage == nil || r.usage.CompletionTokens != int64(tt.wantPieces) {
					t.Errorf("stream usage = %+v, want %d completion tokens", r.usage, tt.wantPieces)
				}
			})
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRejectPrefill(t *testing.T) {
	t.Parallel()
	const want = `{"error":{"message":"This model does not support assistant message prefill.",` +
		`"type":"invalid_request_error","param":"messages","code":"prefill_unsupported"}}`
	sim := New(Options{Profiles: map[string]Profile{
		"strict":   {RejectPrefill: true},
		"overload": {RejectPrefill: true, Fault: Fault{Kind: FaultStatus, Status: 503}},
		"tolerant": {},
	}})
	tests := []struct {
		name       string
		model      string
		body       func(model string) string
		wantStatus int
		wantBody   string // exact body, when set
	}{
		{"prefill rejected", "strict", func(m string) string { return prefillBody(m, "hi", assistant("the"), "") }, 400, want},
		{"streamed prefill rejected", "strict", func(m string) string { return prefillBody(m, "hi", assistant("the"), `"stream":true`) }, 400, want},
		{"empty prefill rejected", "strict", func(m string) string { return prefillBody(m, "hi", assistant(""), "") }, 400, want},
		{"plain request served", "strict", func(m string) string { return chatBody(m, "hi", "") }, 200, ""},
		{"status fault wins", "overload", func(m string) string { return prefillBody(m, "hi", assistant("the"), "") }, 503, ""},
		{"tolerant model continues", "tolerant", func(m string) string { return prefillBody(m, "hi", assistant("the"), "") }, 200, ""},
	}
	for _, c := range conns(t, sim) {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				resp, body := c.mustDo(t, "/chat/completions", tt.body(tt.model))
				if resp.StatusCode != tt.wantStatus || (tt.wantBody != "" && string(body) != tt.wantBody) {
					t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
				}
			})
		}
	}
	t.Run("rejected requests are counted and kept", func(t *testing.T) {
		// 3 rejected + 1 plain request per connection.
		if got := sim.Requests("strict"); got != 8 {
			t.Errorf("Requests = %d, want 8", got)
		}
		if got, want := string(sim.LastRequest("strict")), chatBody("strict", "hi", ""); got != want {
			t.Errorf("LastRequest = %s, want %s", got, want)
		}
	})
}

// TestCutThenContinue is the continuation scenario: the first stream is cut
// after 5 tokens, the second request carries what was delivered as a
// prefill and gets exactly the rest.
func TestCutThenContinue(t *testing.T) {
	t.Parallel()
	const model, prompt = "m", "hi"
	for i, name := range []string{"tcp", "transport"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim := New(Options{Default: Profile{Length: 12, Fault: Fault{Kind: FaultCut, After: 5, Times: 1}}})
			c := conns(t, sim)[i]
			full := sim.Answer(model, prompt, 0)

			first := streamChat(t, c, model, streamUsageOpt)
			if !errors.Is(first.err, io.ErrUnexpectedEOF) || first.done || len(first.pieces) != 5 {
				t.Fatalf("first stream: err=%v done=%v pieces=%q; want a cut after 5", first.err, first.done, first.pieces)
			}
			delivered := first.content

			body := prefillBody(model, prompt, assistant(delivered), streamUsageOpt)
			resp, err := c.do(t.Context(), "/chat/completions", body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			second := readChatStream(resp.Body)
			if second.err != nil || !second.done || second.finish != "stop" {
				t.Fatalf("second stream: err=%v done=%v finish=%q; want healthy", second.err, second.done, second.finish)
			}
			if delivered+second.content != full {
				t.Errorf("delivered %q + rest %q != %q", delivered, second.content, full)
			}
			if len(second.pieces) == 0 || second.pieces[0] != " "+strings.Fields(full)[5] {
				t.Errorf("first piece of the rest = %q", second.pieces)
			}
			if second.usage == nil || second.usage.CompletionTokens != 7 {
				t.Errorf("usage = %+v, want 7 completion tokens", second.usage)
			}
			if got := sim.Requests(model); got != 2 {
				t.Errorf("Requests = %d, want 2", got)
			}
			var sent openai.ChatCompletionRequest
			if err := json.Unmarshal(sim.LastRequest(model), &sent); err != nil {
				t.Fatal(err)
			}
			last := sent.Messages[len(sent.Messages)-1]
			if last.Role != openai.RoleAssistant || last.Text() != delivered || !sent.IncludeUsage() {
				t.Errorf("LastRequest = %s", sim.LastRequest(model))
			}
		})
	}
}

func TestContinueAnswer(t *testing.T) {
	t.Parallel()
	toks := []string{"the", " gateway", " routes"}
	tests := []struct {
		name string
		p    string
		want []string
	}{
		{"empty", "", toks},
		{"first word", "the", toks[1:]},
		{"inside the first word", "th", []string{"e", " gateway", " routes"}},
		{"the space only", "the ", []string{"gateway", " routes"}},
		{"inside a word", "the gate", []string{"way", " routes"}},
		{"all", "the gateway routes", []string{}},
		{"past the end", "the gateway routes!", toks},
		{"diverges", "the gateways", toks},
		{"diverges at once", "a", toks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := continueAnswer(toks, tt.p)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("continueAnswer(%q) = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}
