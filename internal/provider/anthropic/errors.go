package anthropic

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
)

// errorBody is Anthropic's error envelope, in bodies and stream events:
// {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}.
type errorBody struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// statusError turns a non-2xx answer into a provider.Error the router and
// server understand:
//
//   - 429 rate_limit_error and 529 overloaded_error keep their status (both
//     retryable) and Retry-After;
//   - 402 billing_error becomes 429 insufficient_quota (the provider
//     account is out of credit, another channel may still serve);
//   - "prompt is too long" gets code context_length_exceeded;
//   - 401/403 keep their status (the channel's key is at fault);
//   - other 4xx keep the upstream message as invalid_request_error, with
//     the Anthropic error type as code when it says more than that.
func (a *Adapter) statusError(resp *http.Response) *provider.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	return statusErrorFrom(a.channel, resp.StatusCode, resp.Header, body, time.Now())
}

func statusErrorFrom(channel string, status int, h http.Header, body []byte, now time.Time) *provider.Error {
	e := &provider.Error{
		Kind:       provider.KindStatus,
		Phase:      provider.PhaseResponseHeader,
		Channel:    channel,
		Status:     status,
		RetryAfter: provider.ParseRetryAfter(h, now),
	}
	typ, msg := parseError(body)
	e.Message = msg
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	switch {
	case status == http.StatusPaymentRequired || typ == "billing_error":
		e.Status, e.Type, e.Code = http.StatusTooManyRequests, openai.TypeInsufficient, "insufficient_quota"
	case status == http.StatusTooManyRequests:
		e.Type, e.Code = typ, "rate_limit_exceeded"
	case status >= 500:
		e.Type, e.Code = openai.TypeServerError, typ
	case strings.Contains(strings.ToLower(msg), "prompt is too long"):
		e.Type, e.Code = openai.TypeInvalidRequest, "context_length_exceeded"
	default:
		e.Type = openai.TypeInvalidRequest
		if typ != "" && typ != openai.TypeInvalidRequest {
			e.Code = typ
		}
	}
	return e
}

// parseError reads the Anthropic error type and message; a non-JSON body
// (an edge proxy's page) becomes the message when it is text.
func parseError(body []byte) (typ, msg string) {
	var env errorBody
	if json.Unmarshal(body, &env) == nil && (env.Error.Type != "" || env.Error.Message != "") {
		return env.Error.Type, clip(env.Error.Message)
	}
	s := strings.TrimSpace(string(body))
	if s != "" && s[0] != '{' && s[0] != '[' && utf8.ValidString(s) {
		return "", clip(s)
	}
	return "", ""
}

// clip bounds an upstream message so a huge error page cannot flood the
// client's error or the log.
func clip(s string) string {
	s = strings.TrimSpace(s)
	const limit = 500
	if len(s) <= limit {
		return s
	}
	for i := limit; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return ""
}

// requestError wraps a translation failure as the 400 the server relays.
func requestError(channel string, re *RequestError) *provider.Error {
	return &provider.Error{Kind: provider.KindStatus, Phase: provider.PhaseResponseHeader, Channel: channel,
		Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: re.Code,
		Message: re.Message + paramSuffix(re.Param), Err: re}
}

func paramSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " (param: " + p + ")"
}
