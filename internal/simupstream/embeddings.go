package simupstream

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tollgate/tollgate/internal/openai"
)

// serveEmbeddings answers POST /v1/embeddings with a deterministic unit
// vector per input item.
func (s *Simulator) serveEmbeddings(w http.ResponseWriter, r *http.Request, id string) {
	var req openai.EmbeddingRequest
	raw, ok := decodeBody(w, r, &req)
	defer putBuf(raw)
	if !ok {
		return
	}
	inputs, err := openai.ParseInputs(req.Input)
	switch {
	case req.Model == "":
		badRequest(w, "model", "", "You must provide a model parameter.")
		return
	case err != nil:
		badRequest(w, "input", "", "'input' must be a non-empty string, array of strings, array of tokens or array of token arrays.")
		return
	case req.EncodingFormat != "" && req.EncodingFormat != openai.EncodingFloat && req.EncodingFormat != openai.EncodingBase64:
		badRequest(w, "encoding_format", "", "'encoding_format' must be 'float' or 'base64'.")
		return
	case req.Dimensions != nil && (*req.Dimensions < 1 || *req.Dimensions > maxEmbeddingDims):
		badRequest(w, "dimensions", "", "'dimensions' must be between 1 and "+strconv.Itoa(maxEmbeddingDims)+".")
		return
	}
	for _, in := range inputs {
		if in == "" {
			badRequest(w, "input", "", "'input' cannot contain an empty string.")
			return
		}
	}
	c := s.begin(req.Model, id, raw.Bytes())
	if !preamble(w, r, c) {
		return
	}
	dims := c.profile.EmbeddingDims
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	if dims <= 0 {
		dims = DefaultEmbeddingDims
	}
	resp := &openai.EmbeddingResponse{Object: openai.ObjectList, Model: c.model, Data: make([]openai.Embedding, len(inputs))}
	var tokens int64
	for i, in := range inputs {
		v := embedding(in, dims)
		var raw json.RawMessage
		if req.EncodingFormat == openai.EncodingBase64 {
			raw = appendJSONString(nil, openai.EncodeBase64Float32(v))
		} else {
			raw = openai.AppendFloat32Array(make([]byte, 0, 12*dims), v)
		}
		resp.Data[i] = openai.Embedding{Object: openai.ObjectEmbedding, Index: i, Embedding: raw}
		tokens += int64(countWords(in))
	}
	if c.fault.Kind != FaultNoUsage {
		resp.Usage = &openai.EmbeddingUsage{PromptTokens: tokens, TotalTokens: tokens}
	}
	respond(w, r, c, resp)
}
