package openai

import "bytes"

// maxFinishReason bounds the finish reason FinishReason returns.
const maxFinishReason = 64

// FinishReason returns the first non-empty "finish_reason" string value in
// a chat or completion body or stream chunk, or "" if there is none. Like
// ScanChunk it looks for the key token only, which cannot occur unescaped
// inside a JSON string. The value is cut at an escape or after 64 bytes;
// finish reasons are short lower-case words.
func FinishReason(data []byte) string {
	key := []byte(`"finish_reason"`)
	for {
		i := bytes.Index(data, key)
		if i < 0 {
			return ""
		}
		data = data[i+len(key):]
		rest := skipSpace(data)
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = skipSpace(rest[1:])
		if len(rest) < 2 || rest[0] != '"' || rest[1] == '"' {
			continue
		}
		rest = rest[1:]
		end := bytes.IndexAny(rest, "\"\\")
		if end < 0 {
			return ""
		}
		return string(rest[:min(end, maxFinishReason)])
	}
}
