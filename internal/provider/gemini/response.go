package gemini

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// Gemini response wire types (PROTOCOLS §5.2). A stream event has the
// same shape; Error is set on an error event.
type (
	generateResponse struct {
		Candidates     []candidate     `json:"candidates"`
		PromptFeedback *promptFeedback `json:"promptFeedback"`
		UsageMetadata  *usageMetadata  `json:"usageMetadata"`
		ModelVersion   string          `json:"modelVersion"`
		ResponseID     string          `json:"responseId"`
		Error          json.RawMessage `json:"error"`
	}
	candidate struct {
		Content      *content `json:"content"`
		FinishReason string   `json:"finishReason"`
		Index        int      `json:"index"`
	}
	promptFeedback struct {
		BlockReason        string `json:"blockReason"`
		BlockReasonMessage string `json:"blockReasonMessage"`
	}
	usageMetadata struct {
		PromptTokenCount        int64 `json:"promptTokenCount"`
		CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
		TotalTokenCount         int64 `json:"totalTokenCount"`
		CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
		ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
		ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
	}
)

// maxCandidates bounds the candidate index accepted from the upstream, so
// a hostile index cannot make the translator allocate without limit.
const maxCandidates = 128

// translateResponse turns a generateContent answer into an OpenAI chat
// completion. model names the model when the answer has no modelVersion.
func translateResponse(body []byte, model string, ids idSource) ([]byte, error) {
	var r generateResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding the Gemini answer: %w", err)
	}
	if len(r.Error) > 0 && string(r.Error) != "null" {
		return nil, &upstreamError{status: http.StatusBadGateway, body: body}
	}
	if len(r.Candidates) == 0 {
		if pf := r.PromptFeedback; pf != nil && pf.BlockReason != "" {
			return nil, &blockedError{reason: pf.BlockReason, message: pf.BlockReasonMessage}
		}
		return nil, fmt.Errorf("the Gemini answer has no candidates")
	}
	out := openai.ChatCompletion{
		ID:      ids.completionID(r.ResponseID),
		Object:  openai.ObjectChatCompletion,
		Created: ids.now().Unix(),
		Model:   cmp.Or(r.ModelVersion, model),
		Choices: make([]openai.ChatChoice, 0, len(r.Candidates)),
		Usage:   usage(r.UsageMetadata),
	}
	for i, c := range r.Candidates {
		if c.Index < 0 || c.Index >= maxCandidates {
			return nil, fmt.Errorf("candidate index %d out of range", c.Index)
		}
		if c.Index == 0 && i > 0 {
			c.Index = i // some answers leave index out on every candidate
		}
		msg := openai.ResponseMessage{Role: openai.RoleAssistant}
		var text strings.Builder
		if c.Content != nil {
			for _, p := range c.Content.Parts {
				switch {
				case p.Thought:
				case p.FunctionCall != nil:
					msg.ToolCalls = append(msg.ToolCalls, toolCall(p.FunctionCall, ids))
				default:
					text.WriteString(p.Text)
				}
			}
		}
		if text.Len() > 0 || len(msg.ToolCalls) == 0 {
			s := text.String()
			msg.Content = &s
		}
		out.Choices = append(out.Choices, openai.ChatChoice{Index: c.Index, Message: msg,
			FinishReason: finishReason(c.FinishReason, len(msg.ToolCalls) > 0)})
	}
	return json.Marshal(out)
}

// toolCall converts a whole functionCall part.
func toolCall(fc *functionCall, ids idSource) openai.ToolCall {
	return openai.ToolCall{ID: ids.callID(fc.ID), Type: "function",
		Function: openai.FunctionCall{Name: fc.Name, Arguments: argsString(fc.Args)}}
}

// argsString renders functionCall.args as the OpenAI arguments string.
func argsString(args json.RawMessage) string {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, args) != nil {
		return string(args)
	}
	return buf.String()
}

// finishReason maps a Gemini finishReason to an OpenAI one (PROTOCOLS
// §5.5). called reports whether the choice emitted a tool call. Reasons
// with no OpenAI equivalent (OTHER, MALFORMED_FUNCTION_CALL, ...) become
// "stop", the one value every client accepts.
func finishReason(reason string, called bool) string {
	switch reason {
	case "MAX_TOKENS":
		return openai.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return openai.FinishContentFilter
	}
	if called {
		return openai.FinishToolCalls
	}
	return openai.FinishStop
}

// usage converts usageMetadata; nil when there is none.
func usage(u *usageMetadata) *openai.Usage {
	if u == nil {
		return nil
	}
	out := &openai.Usage{
		PromptTokens:            u.PromptTokenCount,
		CompletionTokens:        u.CandidatesTokenCount + u.ThoughtsTokenCount,
		TotalTokens:             u.TotalTokenCount,
		PromptTokensDetails:     &openai.PromptTokensDetails{CachedTokens: u.CachedContentTokenCount},
		CompletionTokensDetails: &openai.CompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount},
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens + u.ToolUsePromptTokenCount
	}
	return out
}

// idSource makes the ids and timestamps of translated answers; tests
// replace it to get reproducible output.
type idSource struct {
	now    func() time.Time
	random func() string
}

// realIDs uses the clock and crypto/rand.
func realIDs() idSource { return idSource{now: time.Now, random: randomID} }

// completionID is "chatcmpl-" plus Gemini's responseId, or a random id.
func (s idSource) completionID(responseID string) string {
	if responseID == "" {
		return "chatcmpl-" + s.random()
	}
	return "chatcmpl-" + responseID
}

// callID is Gemini's functionCall id, or "call_<random>" when absent.
func (s idSource) callID(id string) string {
	if id != "" {
		return id
	}
	return "call_" + s.random()
}

// randomID returns 24 random alphanumeric characters.
func randomID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
