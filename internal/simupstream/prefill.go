package simupstream

import (
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
)

// prefillMessage is the error message of a model that refuses prefills.
const prefillMessage = "This model does not support assistant message prefill."

// prefillText reports whether msgs end with an assistant prefill (an
// assistant message without tool calls) and returns its text.
func prefillText(msgs []openai.ChatMessage) (string, bool) {
	if len(msgs) == 0 {
		return "", false
	}
	last := msgs[len(msgs)-1]
	if last.Role != openai.RoleAssistant || len(last.ToolCalls) > 0 {
		return "", false
	}
	return last.Text(), true
}

// continueAnswer returns the pieces of the answer toks that follow the
// prefill p when p is a prefix of the whole answer, or toks itself when it
// is not. When p ends inside a piece, the rest of that piece comes first.
// An answer p already holds entirely continues with no pieces.
func continueAnswer(toks []string, p string) []string {
	rest := p
	for i, t := range toks {
		if len(rest) < len(t) {
			switch {
			case rest == "":
				return toks[i:]
			case !strings.HasPrefix(t, rest):
				return toks
			}
			out := make([]string, 0, len(toks)-i)
			out = append(out, t[len(rest):])
			return append(out, toks[i+1:]...)
		}
		if !strings.HasPrefix(rest, t) {
			return toks
		}
		rest = rest[len(t):]
	}
	if rest != "" {
		return toks // p runs past the end of the answer
	}
	return toks[len(toks):]
}
