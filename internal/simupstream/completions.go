package simupstream

import (
	"net/http"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// Fixed closing choices of legacy completion streams.
var completionClosing = map[string][]byte{
	openai.FinishStop:   []byte(`{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}`),
	openai.FinishLength: []byte(`{"text":"","index":0,"logprobs":null,"finish_reason":"length"}`),
}

// serveCompletion answers the legacy POST /v1/completions. The answer
// depends on the model and the prompt items joined with "\n"; only the
// first choice is produced.
func (s *Simulator) serveCompletion(w http.ResponseWriter, r *http.Request, id string) {
	var req openai.CompletionRequest
	raw, ok := decodeBody(w, r, &req)
	defer putBuf(raw)
	if !ok {
		return
	}
	var prompts []string
	if len(req.Prompt) > 0 && string(req.Prompt) != "null" {
		var err error
		if prompts, err = openai.ParseInputs(req.Prompt); err != nil {
			badRequest(w, "prompt", "", "'prompt' must be a string, an array of strings or an array of token arrays.")
			return
		}
	}
	switch {
	case req.Model == "":
		badRequest(w, "model", "", "You must provide a model parameter.")
		return
	case req.MaxTokens != nil && *req.MaxTokens < 1:
		badRequest(w, "max_tokens", "integer_below_min_value", "'max_tokens' must be at least 1.")
		return
	}
	c := s.begin(req.Model, id, raw.Bytes())
	if !preamble(w, r, c) {
		return
	}
	prompt := strings.Join(prompts, "\n")
	maxTokens := 0
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	toks, finish := answerTokens(req.Model, prompt, c.profile.Length, maxTokens)
	var usage *openai.Usage
	if c.fault.Kind != FaultNoUsage {
		p := int64(max(countWords(prompt), 1))
		usage = &openai.Usage{PromptTokens: p, CompletionTokens: int64(len(toks)), TotalTokens: p + int64(len(toks))}
	}
	if req.Stream {
		runStream(w, r, c, &streamPlan{
			object:    openai.ObjectTextCompletion,
			tokens:    toks,
			piece:     appendCompletionPiece,
			closing:   completionClosing[finish],
			usage:     streamUsage(usage, req.IncludeUsage()),
			usageNull: req.IncludeUsage() && usage != nil,
		}, "cmpl-sim-")
		return
	}
	respond(w, r, c, &openai.Completion{
		ID:      "cmpl-sim-" + c.id,
		Object:  openai.ObjectTextCompletion,
		Created: c.created,
		Model:   c.model,
		Choices: []openai.CompletionChoice{{Text: strings.Join(toks, ""), FinishReason: finish}},
		Usage:   usage,
	})
}

func appendCompletionPiece(dst []byte, tok string) []byte {
	dst = append(dst, `{"text":`...)
	dst = appendJSONString(dst, tok)
	return append(dst, `,"index":0,"logprobs":null,"finish_reason":null}`...)
}
