package openai

import "bytes"

// ChunkFacts are what a relay needs to know about one stream chunk
// without decoding it.
type ChunkFacts struct {
	// Content is true when the chunk carries answer content: non-empty
	// text, a refusal, or tool calls.
	Content bool
	// Finished is true when the chunk carries a non-null finish_reason.
	Finished bool
}

// ScanChunk inspects a chat or legacy completion stream chunk. It looks
// for keys only: an unescaped `"content"` token cannot occur inside a
// JSON string, where its quotes would be escaped. Whitespace around the
// colon is allowed. The chunk is assumed to be valid JSON.
func ScanChunk(data []byte) ChunkFacts {
	var f ChunkFacts
	f.Content = nonEmptyString(data, `"content"`) || nonEmptyString(data, `"text"`) ||
		nonEmptyString(data, `"refusal"`) || bytes.Contains(data, []byte(`"tool_calls"`))
	f.Finished = nonEmptyString(data, `"finish_reason"`)
	return f
}

// nonEmptyString reports whether some occurrence of key is followed by a
// non-empty string value.
func nonEmptyString(data []byte, key string) bool {
	for {
		i := bytes.Index(data, []byte(key))
		if i < 0 {
			return false
		}
		data = data[i+len(key):]
		rest := skipSpace(data)
		if len(rest) > 0 && rest[0] == ':' {
			rest = skipSpace(rest[1:])
			if len(rest) > 1 && rest[0] == '"' && rest[1] != '"' {
				return true
			}
		}
	}
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
