package simupstream

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/openai"
)

// vocabulary is the word list answers are drawn from. Plain lower-case
// ASCII, so every word encodes in JSON as itself.
var vocabulary = [...]string{
	"the", "gateway", "routes", "every", "request", "to", "a", "healthy", "upstream",
	"and", "counts", "tokens", "while", "streams", "flow", "through", "quiet", "channels",
	"model", "answers", "with", "simulated", "words", "that", "repeat", "exactly", "for",
	"same", "prompt", "so", "tests", "can", "compare", "them", "retries", "wait",
	"politely", "before", "trying", "again", "budgets", "keep", "spending", "honest",
	"keys", "open", "doors", "limits", "guard", "shared", "capacity", "latency", "stays",
	"low", "when", "nothing", "fails", "but", "faults", "are", "injected", "on", "purpose", "here",
}

// spaced holds each vocabulary word with a leading space, the form of every
// stream token after the first.
var spaced = func() (out [len(vocabulary)]string) {
	for i, w := range vocabulary {
		out[i] = " " + w
	}
	return out
}()

// Answer returns the exact text the simulator answers for model and prompt
// (the text of the last user message, or the legacy prompt) when the
// request limits output to maxTokens (0 = no limit). Streams assemble to
// the same text. A chat request continuing a prefix P of this text as an
// assistant prefill is answered with the rest, Answer(...)[len(P):].
func (s *Simulator) Answer(model, prompt string, maxTokens int) string {
	toks, _ := answerTokens(model, prompt, s.Profile(model).Length, maxTokens)
	return strings.Join(toks, "")
}

// answerTokens returns the answer as stream tokens (the first word bare,
// the others with a leading space) and its finish reason.
func answerTokens(model, prompt string, length, maxTokens int) ([]string, string) {
	if length <= 0 {
		length = DefaultLength
	}
	finish := openai.FinishStop
	if maxTokens > 0 && maxTokens < length {
		length, finish = maxTokens, openai.FinishLength
	}
	toks := make([]string, length)
	h := hashStrings(model, prompt)
	for i := range toks {
		h = mix64(h + uint64(i) + 1)
		w := h % uint64(len(vocabulary))
		if i == 0 {
			toks[i] = vocabulary[w]
		} else {
			toks[i] = spaced[w]
		}
	}
	return toks, finish
}

// countWords counts whitespace-separated words, the simulator's token
// estimate.
func countWords(s string) int {
	n, in := 0, false
	for _, r := range s {
		space := r == ' ' || r == '\n' || r == '\t' || r == '\r' || (r >= utf8.RuneSelf && unicode.IsSpace(r))
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}

// firstWords returns up to n leading words of s joined by single spaces.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// hashStrings is 64-bit FNV-1a over a and b with a separator.
func hashStrings(a, b string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for i := 0; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * prime
	}
	return h
}

// mix64 is the splitmix64 finaliser: a cheap bijective scrambler.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hex64 formats x as 16 lower-case hex digits.
func hex64(x uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[x&0xf]
		x >>= 4
	}
	return string(b[:])
}

// toolCall is the deterministic tool call answered for a prompt.
type toolCall struct {
	id, name, args string
}

// makeToolCall builds the call of tool name for model and prompt: id
// "call_" + hex, arguments {"query":"<first words of the prompt>"}.
func makeToolCall(model, prompt, name string) toolCall {
	h := hashStrings(model+"\x00"+name, prompt)
	args := appendJSONString([]byte(`{"query":`), firstWords(prompt, 8))
	args = append(args, '}')
	return toolCall{id: "call_" + hex64(h)[:12] + hex64(mix64(h))[:12], name: name, args: string(args)}
}

// splitFragments splits s into at least 3 pieces (fewer only when s has
// fewer runes), cutting on rune boundaries so every piece is valid UTF-8.
func splitFragments(s string) []string {
	n := max(3, len(s)/8)
	size := max(1, len(s)/n)
	var out []string
	for len(s) > 0 {
		cut := min(size, len(s))
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return out
}

// embedding returns a deterministic unit vector of dims float32s for text.
func embedding(text string, dims int) []float32 {
	v := make([]float32, dims)
	h := hashStrings("embedding", text)
	var norm float64
	for i := range v {
		h = mix64(h + uint64(i) + 1)
		x := float64(h>>11)/(1<<53)*2 - 1
		v[i] = float32(x)
		norm += x * x
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	inv := 1 / math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c == '\n':
			dst = append(dst, '\\', 'n')
			i++
		case c == '\r':
			dst = append(dst, '\\', 'r')
			i++
		case c == '\t':
			dst = append(dst, '\\', 't')
			i++
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
