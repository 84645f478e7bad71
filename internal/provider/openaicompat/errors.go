package openaicompat

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/provider"
)

// statusError turns a non-2xx upstream answer into a provider.Error,
// keeping the upstream's error type, code and message when the body is
// OpenAI-shaped (or array-wrapped, as some compatible servers send).
func (a *Adapter) statusError(resp *http.Response) *provider.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	e := &provider.Error{
		Kind:       provider.KindStatus,
		Phase:      provider.PhaseResponseHeader,
		Channel:    a.channel,
		Status:     resp.StatusCode,
		RetryAfter: provider.ParseRetryAfter(resp.Header, time.Now()),
	}
	e.Type, e.Code, e.Message = parseErrorBody(body)
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// parseErrorBody extracts type, code and message from an error body.
func parseErrorBody(body []byte) (typ, code, msg string) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(body, &arr) == nil && len(arr) > 0 {
			body = arr[0]
		}
	}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		var inner struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		}
		if json.Unmarshal(env.Error, &inner) == nil {
			return inner.Type, rawString(inner.Code), clip(inner.Message)
		}
		var s string
		if json.Unmarshal(env.Error, &s) == nil {
			return "", "", clip(s)
		}
	}
	if len(body) > 0 && body[0] != '{' && body[0] != '[' && utf8.Valid(body) {
		return "", "", clip(string(body))
	}
	return "", "", ""
}

// rawString renders a JSON code that may be a string or a number.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// clip bounds an upstream message so a huge HTML error page cannot flood
// the client's error or the log.
func clip(s string) string {
	s = strings.TrimSpace(s)
	const max = 500
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return ""
}
