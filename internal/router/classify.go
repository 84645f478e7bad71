package router

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tollgate/tollgate/internal/provider"
)

// Class names why an attempt failed; retries and fallbacks are decided
// on it. The values match the configuration's class names.
type Class string

// The failure classes.
const (
	ClassNone          Class = ""
	ClassRateLimit     Class = "rate_limit"
	ClassTimeout       Class = "timeout"
	ClassServerError   Class = "server_error"
	ClassContextLength Class = "context_length_exceeded"
	ClassContentFilter Class = "content_filter"
	ClassUpstreamAuth  Class = "upstream_auth"
	ClassClientError   Class = "client_error"
	ClassCanceled      Class = "canceled"
)

// Classify maps an attempt's error to its failure class.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return ClassServerError
	}
	switch pe.Kind {
	case provider.KindCanceled:
		return ClassCanceled
	case provider.KindTimeout:
		return ClassTimeout
	case provider.KindStatus:
		return classifyStatus(pe)
	}
	return ClassServerError
}

func classifyStatus(pe *provider.Error) Class {
	code := strings.ToLower(pe.Code)
	switch {
	case pe.Status == http.StatusTooManyRequests:
		return ClassRateLimit
	case pe.Status == http.StatusRequestTimeout || pe.Status == http.StatusGatewayTimeout:
		return ClassTimeout
	case pe.Status == http.StatusUnauthorized || pe.Status == http.StatusForbidden:
		return ClassUpstreamAuth
	case pe.Status >= 500:
		return ClassServerError
	case code == "context_length_exceeded" || strings.Contains(strings.ToLower(pe.Message), "maximum context length"):
		return ClassContextLength
	case code == "content_filter" || code == "content_policy_violation":
		return ClassContentFilter
	}
	return ClassClientError
}

// neverRepeat reports whether a failure means the same channel must not
// be tried again within this request: a route that timed out without
// answering, or one whose credentials are rejected, goes elsewhere.
func neverRepeat(c Class) bool {
	return c == ClassTimeout || c == ClassUpstreamAuth || c == ClassContextLength || c == ClassContentFilter || c == ClassClientError
}

// healthFailure reports whether a failure counts against the channel's
// health (circuit breaker). Bad requests do not.
func healthFailure(c Class) bool {
	return c == ClassRateLimit || c == ClassTimeout || c == ClassServerError || c == ClassUpstreamAuth
}
