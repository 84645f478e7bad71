package openai

import "encoding/json"

// CompletionRequest is the body of the legacy POST /v1/completions. Prompt
// is kept raw: a string, an array of strings, an array of token ids or an
// array of token-id arrays (see ParseInputs).
type CompletionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt,omitempty"`
	Suffix        string          `json:"suffix,omitempty"`
	MaxTokens     *int            `json:"max_tokens,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	N             *int            `json:"n,omitempty"`
	Stop          json.RawMessage `json:"stop,omitempty"`
	Echo          bool            `json:"echo,omitempty"`
	Logprobs      *int            `json:"logprobs,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	StreamOptions *StreamOptions  `json:"stream_options,omitempty"`
	User          string          `json:"user,omitempty"`
}

// IncludeUsage reports whether the request asked for a usage chunk.
func (r *CompletionRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// Completion is the non-stream response of POST /v1/completions.
type Completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"` // "text_completion"
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint,omitempty"`
	Choices           []CompletionChoice `json:"choices"`
	Usage             *Usage             `json:"usage,omitempty"`
}

// CompletionChoice is one choice of a Completion. Logprobs encodes as null
// when empty.
type CompletionChoice struct {
	Text         string          `json:"text"`
	Index        int             `json:"index"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// CompletionChunk is one "data:" event of a legacy completion stream. Its
// object is "text_completion" like the non-stream response. Usage follows
// the same rules as ChatCompletionChunk: omitted when nil unless
// IncludeUsageNull is set, in which case it encodes as null; a nil Choices
// encodes as [].
type CompletionChunk struct {
	ID                string                  `json:"id"`
	Object            string                  `json:"object"`
	Created           int64                   `json:"created"`
	Model             string                  `json:"model"`
	SystemFingerprint string                  `json:"system_fingerprint,omitempty"`
	Choices           []CompletionChunkChoice `json:"choices"`
	Usage             *Usage                  `json:"usage,omitempty"`

	// IncludeUsageNull makes a nil Usage encode as "usage":null.
	IncludeUsageNull bool `json:"-"`
}

// CompletionChunkChoice is one choice of a CompletionChunk; FinishReason is
// null until the choice ends.
type CompletionChunkChoice struct {
	Text         string          `json:"text"`
	Index        int             `json:"index"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// completionChunkFields is CompletionChunk without its methods.
type completionChunkFields CompletionChunk

// MarshalJSON encodes the chunk following the usage rules documented on
// CompletionChunk.
func (c CompletionChunk) MarshalJSON() ([]byte, error) {
	if c.Choices == nil {
		c.Choices = []CompletionChunkChoice{}
	}
	if c.Usage != nil || !c.IncludeUsageNull {
		return json.Marshal(completionChunkFields(c))
	}
	return json.Marshal(struct {
		completionChunkFields
		Usage *Usage `json:"usage"`
	}{completionChunkFields: completionChunkFields(c)})
}

// UnmarshalJSON decodes a chunk and records whether "usage":null was sent.
func (c *CompletionChunk) UnmarshalJSON(data []byte) error {
	var v struct {
		completionChunkFields
		Usage json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*c = CompletionChunk(v.completionChunkFields)
	c.Usage, c.IncludeUsageNull = nil, false
	return decodeUsage(v.Usage, &c.Usage, &c.IncludeUsageNull)
}
