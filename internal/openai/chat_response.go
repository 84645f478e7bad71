package openai

import "encoding/json"

// ChatCompletion is the non-stream response of POST /v1/chat/completions.
type ChatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`  // "chat.completion"
	Created           int64        `json:"created"` // Unix seconds
	Model             string       `json:"model"`
	ServiceTier       string       `json:"service_tier,omitempty"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
	Choices           []ChatChoice `json:"choices"`
	Usage             *Usage       `json:"usage,omitempty"`
}

// ChatChoice is one choice of a ChatCompletion. Logprobs is kept raw and
// encodes as null when empty.
type ChatChoice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant message of a ChatChoice. Content and
// Refusal encode as null when nil; with tool calls Content is usually nil.
type ResponseMessage struct {
	Role        string          `json:"role"`
	Content     *string         `json:"content"`
	Refusal     *string         `json:"refusal"`
	ToolCalls   []ToolCall      `json:"tool_calls,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
}

// ChatCompletionChunk is one "data:" event of a chat completion stream.
//
// It never encodes a top-level "error" key. The "usage" key is emitted when
// Usage is set; when Usage is nil it is emitted as null only if
// IncludeUsageNull is true (the client asked for include_usage) and left
// out otherwise. A nil Choices encodes as [] (the final usage chunk).
// Decoding sets IncludeUsageNull when the chunk carried "usage":null.
type ChatCompletionChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // "chat.completion.chunk"
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	ServiceTier       string        `json:"service_tier,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`

	// IncludeUsageNull makes a nil Usage encode as "usage":null.
	IncludeUsageNull bool `json:"-"`
}

// ChunkChoice is one choice of a stream chunk. FinishReason is null until
// the choice ends.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        ChunkDelta      `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// ChunkDelta is the incremental part of a stream chunk. Role is sent only
// in the first chunk; an empty delta encodes as {}.
type ChunkDelta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// chunkFields is ChatCompletionChunk without its methods.
type chunkFields ChatCompletionChunk

// MarshalJSON encodes the chunk following the usage rules documented on
// ChatCompletionChunk.
func (c ChatCompletionChunk) MarshalJSON() ([]byte, error) {
	if c.Choices == nil {
		c.Choices = []ChunkChoice{}
	}
	if c.Usage != nil || !c.IncludeUsageNull {
		return json.Marshal(chunkFields(c))
	}
	return json.Marshal(struct {
		chunkFields
		Usage *Usage `json:"usage"`
	}{chunkFields: chunkFields(c)})
}

// UnmarshalJSON decodes a chunk and records whether "usage":null was sent.
func (c *ChatCompletionChunk) UnmarshalJSON(data []byte) error {
	var v struct {
		chunkFields
		Usage json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*c = ChatCompletionChunk(v.chunkFields)
	c.Usage, c.IncludeUsageNull = nil, false
	return decodeUsage(v.Usage, &c.Usage, &c.IncludeUsageNull)
}

// decodeUsage fills *u from raw, or sets *null when raw is the literal null.
func decodeUsage(raw json.RawMessage, u **Usage, null *bool) error {
	switch {
	case len(raw) == 0:
		return nil
	case string(raw) == "null":
		*null = true
		return nil
	}
	*u = new(Usage)
	return json.Unmarshal(raw, *u)
}
