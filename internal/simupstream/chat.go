package simupstream

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// Fixed choice objects of chat streams.
var (
	chatOpening = []byte(`{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`)
	chatClosing = map[string][]byte{
		openai.FinishStop:      []byte(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}`),
		openai.FinishLength:    []byte(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}`),
		openai.FinishToolCalls: []byte(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}`),
	}
)

// serveChat answers POST /v1/chat/completions.
func (s *Simulator) serveChat(w http.ResponseWriter, r *http.Request, id string) {
	var req openai.ChatCompletionRequest
	raw, ok := decodeBody(w, r, &req)
	defer putBuf(raw)
	if !ok || !validChat(w, &req) {
		return
	}
	c := s.begin(req.Model, id, raw.Bytes())
	if !preamble(w, r, c) {
		return
	}
	prefill, isPrefill := prefillText(req.Messages)
	if isPrefill && c.profile.RejectPrefill {
		badRequest(w, "messages", "prefill_unsupported", prefillMessage)
		return
	}
	prompt := lastUserText(req.Messages)
	usage := &openai.Usage{PromptTokens: chatPromptTokens(req.Messages)}
	if c.fault.Kind == FaultNoUsage {
		usage = nil
	}
	mode, name := req.ToolChoiceMode()
	if len(req.Tools) > 0 && mode != "none" {
		if mode != "function" {
			name = req.Tools[0].Function.Name
		}
		tc := makeToolCall(req.Model, prompt, name)
		frags := splitFragments(tc.args)
		setCompletionTokens(usage, int64(len(frags)+1))
		if req.Stream {
			runStream(w, r, c, toolStreamPlan(tc, frags, streamUsage(usage, req.IncludeUsage())), "chatcmpl-sim-")
			return
		}
		respond(w, r, c, chatCompletion(c, openai.ResponseMessage{
			Role: openai.RoleAssistant,
			ToolCalls: []openai.ToolCall{{ID: tc.id, Type: "function",
				Function: openai.FunctionCall{Name: tc.name, Arguments: tc.args}}},
		}, openai.FinishToolCalls, usage))
		return
	}
	toks, finish := answerTokens(req.Model, prompt, c.profile.Length, req.MaxOutputTokens())
	if isPrefill {
		toks = continueAnswer(toks, prefill)
	}
	setCompletionTokens(usage, int64(len(toks)))
	if req.Stream {
		runStream(w, r, c, &streamPlan{
			object:    openai.ObjectChatCompletionChunk,
			opening:   chatOpening,
			tokens:    toks,
			piece:     appendChatPiece,
			closing:   chatClosing[finish],
			usage:     streamUsage(usage, req.IncludeUsage()),
			usageNull: req.IncludeUsage() && usage != nil,
		}, "chatcmpl-sim-")
		return
	}
	text := strings.Join(toks, "")
	respond(w, r, c, chatCompletion(c, openai.ResponseMessage{Role: openai.RoleAssistant, Content: &text},
		finish, usage))
}

// validChat answers 400 for a request the simulator cannot serve.
func validChat(w http.ResponseWriter, req *openai.ChatCompletionRequest) bool {
	switch {
	case req.Model == "":
		badRequest(w, "model", "", "You must provide a model parameter.")
	case len(req.Messages) == 0:
		badRequest(w, "messages", "", "'messages' must contain at least one message.")
	case req.MaxTokens != nil && *req.MaxTokens < 1:
		badRequest(w, "max_tokens", "integer_below_min_value", "'max_tokens' must be at least 1.")
	case req.MaxCompletionTokens != nil && *req.MaxCompletionTokens < 1:
		badRequest(w, "max_completion_tokens", "integer_below_min_value", "'max_completion_tokens' must be at least 1.")
	case slices.ContainsFunc(req.Tools, func(t openai.Tool) bool { return t.Function.Name == "" }):
		badRequest(w, "tools", "", "Every tool must have a function name.")
	default:
		return true
	}
	return false
}

// chatCompletion builds a non-stream response.
func chatCompletion(c *call, msg openai.ResponseMessage, finish string, u *openai.Usage) *openai.ChatCompletion {
	return &openai.ChatCompletion{
		ID:      "chatcmpl-sim-" + c.id,
		Object:  openai.ObjectChatCompletion,
		Created: c.created,
		Model:   c.model,
		Choices: []openai.ChatChoice{{Message: msg, FinishReason: finish}},
		Usage:   u,
	}
}

// toolStreamPlan streams one tool call as PROTOCOLS §1.4 prescribes: a
// header delta with role, index, id, type, name and empty arguments, then
// argument fragments carrying only index and arguments.
func toolStreamPlan(tc toolCall, frags []string, u *openai.Usage) *streamPlan {
	zero := 0
	opening, err := json.Marshal(openai.ChunkChoice{Delta: openai.ChunkDelta{
		Role: openai.RoleAssistant,
		ToolCalls: []openai.ToolCall{{Index: &zero, ID: tc.id, Type: "function",
			Function: openai.FunctionCall{Name: tc.name}}},
	}})
	if err != nil {
		panic(err) // only our own types are encoded
	}
	return &streamPlan{
		object:    openai.ObjectChatCompletionChunk,
		opening:   opening,
		tokens:    frags,
		piece:     appendToolPiece,
		closing:   chatClosing[openai.FinishToolCalls],
		usage:     u,
		usageNull: u != nil,
	}
}

func appendChatPiece(dst []byte, tok string) []byte {
	dst = append(dst, `{"index":0,"delta":{"content":`...)
	dst = appendJSONString(dst, tok)
	return append(dst, `},"logprobs":null,"finish_reason":null}`...)
}

func appendToolPiece(dst []byte, frag string) []byte {
	dst = append(dst, `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`...)
	dst = appendJSONString(dst, frag)
	return append(dst, `}}]},"logprobs":null,"finish_reason":null}`...)
}

// streamUsage returns u when the client asked for a usage chunk.
func streamUsage(u *openai.Usage, asked bool) *openai.Usage {
	if !asked {
		return nil
	}
	return u
}

// setCompletionTokens fills the completion side of u (if any).
func setCompletionTokens(u *openai.Usage, n int64) {
	if u == nil {
		return
	}
	u.CompletionTokens = n
	u.TotalTokens = u.PromptTokens + n
	u.PromptTokensDetails = &openai.PromptTokensDetails{}
	u.CompletionTokensDetails = &openai.CompletionTokensDetails{}
}

// lastUserText is the text of the last user message, or "" if none.
func lastUserText(msgs []openai.ChatMessage) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == openai.RoleUser {
			return msgs[i].Text()
		}
	}
	return ""
}

// chatPromptTokens estimates prompt tokens: words of every message plus 3
// per message.
func chatPromptTokens(msgs []openai.ChatMessage) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(countWords(m.Text()) + 3)
		for _, tc := range m.ToolCalls {
			n += int64(countWords(tc.Function.Name) + countWords(tc.Function.Arguments))
		}
	}
	return n
}
