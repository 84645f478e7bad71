package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/provider"
)

// Gemini (google.rpc) status names that change how an error is reported.
const (
	statusInvalidArgument    = "INVALID_ARGUMENT"
	statusFailedPrecondition = "FAILED_PRECONDITION"
	statusPermissionDenied   = "PERMISSION_DENIED"
	statusUnauthenticated    = "UNAUTHENTICATED"
	statusNotFound           = "NOT_FOUND"
	statusResourceExhausted  = "RESOURCE_EXHAUSTED"
	statusUnavailable        = "UNAVAILABLE"
	statusDeadlineExceeded   = "DEADLINE_EXCEEDED"
	statusInternal           = "INTERNAL"
)

// OpenAI error types and codes the adapter reports.
const (
	typeInvalidRequest = "invalid_request_error"
	typeServerError    = "server_error"
	typeRequests       = "requests"
	typeInsufficient   = "insufficient_quota"
	codeContentFilter  = "content_filter"
	codeContextLength  = "context_length_exceeded"
	codeRateLimit      = "rate_limit_exceeded"
	codeQuota          = "insufficient_quota"
	codeModelNotFound  = "model_not_found"
	codeInvalidKey     = "invalid_api_key"
)

// rpcError is the inner object of a Gemini error body:
// {"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}.
type rpcError struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Status  string      `json:"status"`
	Details []rpcDetail `json:"details"`
}

// rpcDetail is one entry of error.details; only the fields tollgate reads.
type rpcDetail struct {
	Type       string         `json:"@type"`
	Reason     string         `json:"reason"`     // ErrorInfo
	RetryDelay string         `json:"retryDelay"` // RetryInfo, e.g. "34s"
	Violations []rpcViolation `json:"violations"` // QuotaFailure
}

type rpcViolation struct {
	QuotaID     string `json:"quotaId"`
	QuotaMetric string `json:"quotaMetric"`
}

// quotaReport is what the details say about a rate limit or bad key.
type quotaReport struct {
	retryDelay time.Duration
	perDay     bool
	badKey     bool
}

// parseRPCError reads a Gemini error body, also when wrapped in a
// one-element array. ok is false when body holds no error object.
func parseRPCError(body []byte) (e rpcError, ok bool) {
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
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 || string(env.Error) == "null" {
		return rpcError{}, false
	}
	if json.Unmarshal(env.Error, &e) != nil {
		var s string
		if json.Unmarshal(env.Error, &s) != nil {
			return rpcError{}, false
		}
		e = rpcError{Message: s}
	}
	e.Message = clip(e.Message)
	return e, true
}

// inspect reads the details: retry delay, per-day quota, invalid key.
func (e *rpcError) inspect() quotaReport {
	var q quotaReport
	for _, d := range e.Details {
		switch {
		case strings.HasSuffix(d.Type, "RetryInfo"):
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 && dur < 24*time.Hour {
				q.retryDelay = dur
			}
		case strings.HasSuffix(d.Type, "QuotaFailure"):
			for _, v := range d.Violations {
				if strings.Contains(v.QuotaID, "PerDay") || strings.Contains(v.QuotaMetric, "per_day") {
					q.perDay = true
				}
			}
		}
		if d.Reason == "API_KEY_INVALID" {
			q.badKey = true
		}
	}
	return q
}

// statusError turns a non-2xx upstream answer into a provider.Error.
func (a *Adapter) statusError(resp *http.Response) *provider.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	e := mapError(resp.StatusCode, body)
	e.Channel = a.channel
	if e.RetryAfter == 0 {
		e.RetryAfter = provider.ParseRetryAfter(resp.Header, time.Now())
	}
	return e
}

// mapError maps an HTTP status and Gemini error body to a provider.Error
// (PROTOCOLS §5.4 and §7): RESOURCE_EXHAUSTED is a 429 (insufficient_quota
// for per-day quotas), API_KEY_INVALID a 401 so the router treats it as an
// upstream credential problem, an over-long prompt context_length_exceeded.
func mapError(httpStatus int, body []byte) *provider.Error {
	e := &provider.Error{Kind: provider.KindStatus, Phase: provider.PhaseResponseHeader, Status: httpStatus}
	rpc, ok := parseRPCError(body)
	if !ok {
		if b := bytes.TrimSpace(body); len(b) > 0 && b[0] != '{' && b[0] != '[' && utf8.Valid(b) {
			e.Message = clip(string(b))
		}
		if e.Message == "" {
			e.Message = http.StatusText(httpStatus)
		}
		return e
	}
	q := rpc.inspect()
	e.Message = rpc.Message
	if rpc.Status != "" {
		e.Message = rpc.Status + ": " + rpc.Message
	}
	switch rpc.Status {
	case statusResourceExhausted:
		e.Status, e.Type, e.Code, e.RetryAfter = http.StatusTooManyRequests, typeRequests, codeRateLimit, q.retryDelay
		if q.perDay {
			e.Type, e.Code = typeInsufficient, codeQuota
		}
	case statusUnavailable:
		e.Status, e.Type = http.StatusServiceUnavailable, typeServerError
	case statusDeadlineExceeded:
		e.Status, e.Type = http.StatusGatewayTimeout, typeServerError
	case statusInvalidArgument, statusFailedPrecondition:
		e.Status, e.Type = http.StatusBadRequest, typeInvalidRequest
		if q.badKey {
			e.Status, e.Code = http.StatusUnauthorized, codeInvalidKey
		} else if isContextLength(rpc.Message) {
			e.Code = codeContextLength
		}
	case statusUnauthenticated:
		e.Status, e.Type, e.Code = http.StatusUnauthorized, typeInvalidRequest, codeInvalidKey
	case statusPermissionDenied:
		e.Status, e.Type = http.StatusForbidden, typeInvalidRequest
		if q.badKey {
			e.Status, e.Code = http.StatusUnauthorized, codeInvalidKey
		}
	case statusNotFound:
		e.Status, e.Type, e.Code = http.StatusNotFound, typeInvalidRequest, codeModelNotFound
	case statusInternal:
		e.Status, e.Type = http.StatusInternalServerError, typeServerError
	default:
		if q.badKey {
			e.Status, e.Code = http.StatusUnauthorized, codeInvalidKey
		}
	}
	if e.Status < 400 { // an error body on a 2xx, or a missing code
		e.Status = http.StatusBadGateway
	}
	return e
}

// isContextLength recognises "The input token count (N) exceeds the
// maximum number of tokens allowed (M)."
func isContextLength(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "input token count") && strings.Contains(m, "exceed")
}

// requestError is a client request the adapter cannot translate.
type requestError struct {
	param string
	msg   string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(param, format string, args ...any) error {
	return &requestError{param: param, msg: fmt.Sprintf(format, args...)}
}

// requestError reports a request that cannot be sent to Gemini as a 400,
// as if the upstream had refused it, so it is neither retried nor held
// against the channel.
func (a *Adapter) requestError(err error) *provider.Error {
	msg := err.Error()
	var re *requestError
	if errors.As(err, &re) && re.param != "" {
		msg = re.param + ": " + re.msg
	}
	return &provider.Error{Kind: provider.KindStatus, Phase: provider.PhaseResponseHeader, Channel: a.channel,
		Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: msg, Err: err}
}

// blockedError is a prompt Gemini refused to answer
// (promptFeedback.blockReason with no candidates).
type blockedError struct {
	reason  string
	message string
}

func (e *blockedError) Error() string {
	msg := "the prompt was blocked by Gemini's content filter (blockReason " + e.reason + ")"
	if e.message != "" {
		msg += ": " + e.message
	}
	return msg
}

// providerError converts a blocked prompt into a 400 content_filter error.
func (e *blockedError) providerError(channel string, phase provider.Phase) *provider.Error {
	return &provider.Error{Kind: provider.KindStatus, Phase: phase, Channel: channel,
		Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: codeContentFilter, Message: e.Error()}
}

// answerError classifies a 2xx body that could not be translated.
func (a *Adapter) answerError(err error) *provider.Error {
	var be *blockedError
	if errors.As(err, &be) {
		return be.providerError(a.channel, provider.PhaseBody)
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		e := mapError(ue.status, ue.body)
		e.Channel, e.Phase = a.channel, provider.PhaseBody
		return e
	}
	return &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseBody, Channel: a.channel,
		Message: "the upstream's answer is not a valid Gemini response", Err: err}
}

// upstreamError is an error object found in a 2xx body.
type upstreamError struct {
	status int
	body   []byte
}

func (e *upstreamError) Error() string { return "the upstream answered with an error object" }

// clip bounds an upstream message so a huge page cannot flood the
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
