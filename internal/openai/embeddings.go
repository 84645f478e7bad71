package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Embedding encodings accepted in EmbeddingRequest.EncodingFormat.
const (
	EncodingFloat  = "float"
	EncodingBase64 = "base64"
)

// ErrInvalidInput reports an embeddings input or completion prompt that is
// not a string, an array of strings, an array of token ids or an array of
// token-id arrays, or is an empty array.
var ErrInvalidInput = errors.New("openai: input must be a string, an array of strings, an array of token ids or an array of token-id arrays")

// EmbeddingRequest is the body of POST /v1/embeddings. Input is kept raw
// (see ParseInputs). An empty EncodingFormat means "float"; the Python and
// Node SDKs send "base64" by default.
type EmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format,omitempty"`
	Dimensions     *int            `json:"dimensions,omitempty"`
	User           string          `json:"user,omitempty"`
}

// EmbeddingResponse is the body of a POST /v1/embeddings response.
type EmbeddingResponse struct {
	Object string          `json:"object"` // "list"
	Data   []Embedding     `json:"data"`
	Model  string          `json:"model"`
	Usage  *EmbeddingUsage `json:"usage,omitempty"`
}

// Embedding is one vector of an EmbeddingResponse. The vector is kept raw:
// a JSON array of numbers, or a string of base64 little-endian float32s;
// use Floats to read either.
type Embedding struct {
	Object    string          `json:"object"` // "embedding"
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
}

// Floats decodes the vector from either encoding.
func (e Embedding) Floats() ([]float32, error) {
	raw := bytes.TrimSpace(e.Embedding)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("decoding embedding: %w", err)
		}
		return DecodeBase64Float32(s)
	}
	var v []float32
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decoding embedding: %w", err)
	}
	return v, nil
}

// EncodeBase64Float32 encodes v as little-endian float32s in standard
// base64, the "base64" embedding encoding.
func EncodeBase64Float32(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// DecodeBase64Float32 is the inverse of EncodeBase64Float32.
func DecodeBase64Float32(s string) ([]float32, error) {
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding base64 embedding: %w", err)
	}
	if len(buf)%4 != 0 {
		return nil, fmt.Errorf("decoding base64 embedding: %d bytes is not a whole number of float32s", len(buf))
	}
	v := make([]float32, len(buf)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return v, nil
}

// AppendFloat32Array appends v to dst as a JSON array of numbers, each
// formatted with the fewest digits that round-trip as a float32. NaN and
// infinities, which JSON cannot carry, are written as 0.
func AppendFloat32Array(dst []byte, v []float32) []byte {
	dst = append(dst, '[')
	for i, f := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		x := float64(f)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			x = 0
		}
		dst = strconv.AppendFloat(dst, x, 'g', -1, 32)
	}
	return append(dst, ']')
}

// ParseInputs decodes an embeddings input or a completion prompt into one
// text per item: a string is one item, an array of strings is one item per
// string, an array of token ids is one item and an array of token-id arrays
// is one item per inner array. Token ids are rendered as decimal numbers
// separated by single spaces. A malformed value or an empty array yields
// ErrInvalidInput.
func ParseInputs(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, ErrInvalidInput
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, ErrInvalidInput
		}
		return []string{s}, nil
	case '[':
	default:
		return nil, ErrInvalidInput
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil {
		if len(strs) == 0 {
			return nil, ErrInvalidInput
		}
		return strs, nil
	}
	var ids []int64
	if json.Unmarshal(raw, &ids) == nil {
		return []string{tokenText(ids)}, nil
	}
	var lists [][]int64
	if json.Unmarshal(raw, &lists) != nil || len(lists) == 0 {
		return nil, ErrInvalidInput
	}
	out := make([]string, len(lists))
	for i, l := range lists {
		out[i] = tokenText(l)
	}
	return out, nil
}

// tokenText renders token ids as space-separated decimals.
func tokenText(ids []int64) string {
	b := make([]byte, 0, 6*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(b)
}
