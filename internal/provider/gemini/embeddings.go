package gemini

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// Gemini batchEmbedContents wire types.
type (
	batchEmbedRequest struct {
		Requests []embedRequest `json:"requests"`
	}
	embedRequest struct {
		Model                string  `json:"model"`
		Content              content `json:"content"`
		OutputDimensionality *int    `json:"outputDimensionality,omitempty"`
	}
	batchEmbedResponse struct {
		Embeddings []struct {
			Values []float32 `json:"values"`
		} `json:"embeddings"`
		UsageMetadata *struct {
			PromptTokenCount int64 `json:"promptTokenCount"`
		} `json:"usageMetadata"`
	}
)

// embedCall is a translated embeddings request.
type embedCall struct {
	model  string
	body   []byte
	base64 bool // the client asked for encoding_format "base64"
	inputs int
}

// translateEmbeddings turns an OpenAI embeddings request into a
// batchEmbedContents request, one entry per input item. Token-id inputs
// are sent as their decimal text, as Gemini only embeds text.
func translateEmbeddings(body []byte) (*embedCall, error) {
	var req openai.EmbeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("", "the request body is not a valid embeddings request: %v", err)
	}
	if req.Model == "" {
		return nil, badRequest("model", "required")
	}
	switch req.EncodingFormat {
	case "", openai.EncodingFloat, openai.EncodingBase64:
	default:
		return nil, badRequest("encoding_format", "must be %q or %q", openai.EncodingFloat, openai.EncodingBase64)
	}
	inputs, err := openai.ParseInputs(req.Input)
	if err != nil {
		return nil, badRequest("input", "%v", err)
	}
	name := "models/" + strings.TrimPrefix(req.Model, "models/")
	out := batchEmbedRequest{Requests: make([]embedRequest, len(inputs))}
	for i, in := range inputs {
		if in == "" {
			return nil, badRequest("input", "cannot contain an empty string")
		}
		out.Requests[i] = embedRequest{Model: name, Content: content{Parts: []part{{Text: in}}},
			OutputDimensionality: req.Dimensions}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, badRequest("", "cannot encode the Gemini request: %v", err)
	}
	return &embedCall{model: req.Model, body: b, base64: req.EncodingFormat == openai.EncodingBase64, inputs: len(inputs)}, nil
}

// translateEmbeddingsResponse turns a batchEmbedContents answer into an
// OpenAI embeddings list, base64-encoding float32 little-endian vectors
// when the client asked for it. Usage is reported only when Gemini sent
// usageMetadata.
func translateEmbeddingsResponse(body []byte, c *embedCall) ([]byte, error) {
	var r batchEmbedResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding the Gemini embeddings: %w", err)
	}
	if len(r.Embeddings) != c.inputs {
		return nil, fmt.Errorf("the Gemini answer has %d embeddings for %d inputs", len(r.Embeddings), c.inputs)
	}
	out := openai.EmbeddingResponse{Object: openai.ObjectList, Model: c.model, Data: make([]openai.Embedding, len(r.Embeddings))}
	for i, e := range r.Embeddings {
		var raw json.RawMessage
		if c.base64 {
			raw = appendString(nil, openai.EncodeBase64Float32(e.Values))
		} else {
			raw = openai.AppendFloat32Array(make([]byte, 0, 12*len(e.Values)+2), e.Values)
		}
		out.Data[i] = openai.Embedding{Object: openai.ObjectEmbedding, Index: i, Embedding: raw}
	}
	if u := r.UsageMetadata; u != nil {
		out.Usage = &openai.EmbeddingUsage{PromptTokens: u.PromptTokenCount, TotalTokens: u.PromptTokenCount}
	}
	return json.Marshal(out)
}
