package openai

import (
	"sync"

	"github.com/tollgate/tollgate/internal/jsonpeek"
)

// Usage is the token accounting of a chat or legacy completion.
// PromptTokens includes cached tokens and CompletionTokens includes
// reasoning tokens. The detail objects are nil when the upstream did not
// report them.
type Usage struct {
	PromptTokens            int64                    `json:"prompt_tokens"`
	CompletionTokens        int64                    `json:"completion_tokens"`
	TotalTokens             int64                    `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks down Usage.PromptTokens.
type PromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
	AudioTokens  int64 `json:"audio_tokens"`
}

// CompletionTokensDetails breaks down Usage.CompletionTokens.
type CompletionTokensDetails struct {
	ReasoningTokens          int64 `json:"reasoning_tokens"`
	AudioTokens              int64 `json:"audio_tokens"`
	AcceptedPredictionTokens int64 `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int64 `json:"rejected_prediction_tokens"`
}

// EmbeddingUsage is the token accounting of an embeddings response.
type EmbeddingUsage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

// usageObjects are PeekUsage's scratch objects, reused so that reading
// a usage object does not allocate.
var usageObjects = sync.Pool{New: func() any { return new(jsonpeek.Object) }}

// UsageCounts is what a request log keeps of a Usage: the three totals and
// the cached prompt tokens.
type UsageCounts struct {
	PromptTokens, CompletionTokens, TotalTokens, CachedTokens int64
}

// PeekUsage reads the counts of a usage object from its raw JSON without
// decoding the rest, for the one chunk per stream that carries it. ok is
// false if raw is not a JSON object or a count present in it is not an
// integer; absent and null counts are zero. Unlike encoding/json it
// matches member names exactly and ignores the detail objects it does not
// read.
func PeekUsage(raw []byte) (c UsageCounts, ok bool) {
	o := usageObjects.Get().(*jsonpeek.Object)
	defer func() {
		o.Reset()
		usageObjects.Put(o)
	}()
	if jsonpeek.ParseInto(o, raw) != nil {
		return UsageCounts{}, false
	}
	var errs [3]error
	c.PromptTokens, _, errs[0] = o.Int("prompt_tokens")
	c.CompletionTokens, _, errs[1] = o.Int("completion_tokens")
	c.TotalTokens, _, errs[2] = o.Int("total_tokens")
	if errs != [3]error{} {
		return UsageCounts{}, false
	}
	details, present := o.Raw("prompt_tokens_details")
	if !present || string(details) == "null" {
		return c, true
	}
	if jsonpeek.ParseInto(o, details) != nil {
		return UsageCounts{}, false
	}
	n, _, err := o.Int("cached_tokens")
	if err != nil {
		return UsageCounts{}, false
	}
	c.CachedTokens = n
	return c, true
}
