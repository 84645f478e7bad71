package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Phase names the part of an upstream attempt where something failed.
type Phase string

// The phases of an attempt, in order.
const (
	PhaseConnect        Phase = "connect"         // DNS, TCP connect, TLS handshake
	PhaseResponseHeader Phase = "response_header" // request sent, waiting for the status line
	PhaseFirstToken     Phase = "first_token"     // stream open, waiting for the first event
	PhaseIdle           Phase = "idle"            // between two stream events
	PhaseBody           Phase = "body"            // reading a non-stream body
	PhaseTotal          Phase = "total"           // the whole request's deadline
)

// Kind classifies a failed attempt.
type Kind string

// The kinds of failure.
const (
	// KindStatus: the upstream answered with a non-2xx status.
	KindStatus Kind = "status"
	// KindConnect: no connection could be made; nothing reached the upstream.
	KindConnect Kind = "connect"
	// KindTimeout: a phase ran out of time.
	KindTimeout Kind = "timeout"
	// KindNetwork: the connection failed after the request was sent (reset, EOF).
	KindNetwork Kind = "network"
	// KindTruncated: a stream ended without its end marker.
	KindTruncated Kind = "truncated"
	// KindMalformed: the upstream sent something that is not valid in its format.
	KindMalformed Kind = "malformed"
	// KindStreamError: the upstream reported an error inside a stream.
	KindStreamError Kind = "stream_error"
	// KindCanceled: the client went away; not the upstream's fault.
	KindCanceled Kind = "canceled"
)

// Error describes a failed upstream attempt. Message is safe to show to
// clients (it never holds credentials); Err is the underlying cause.
type Error struct {
	Kind    Kind
	Phase   Phase
	Channel string
	// Status is the upstream's HTTP status for KindStatus.
	Status int
	// Type and Code come from the upstream's error body when it had one.
	Type string
	Code string
	// Message is the upstream's error message or a description of the failure.
	Message string
	// RetryAfter is the upstream's Retry-After / retry-after-ms hint.
	RetryAfter time.Duration
	// Limit is the timeout that ran out, for KindTimeout.
	Limit time.Duration
	// Elapsed is how long the phase ran before failing, for KindTimeout.
	Elapsed time.Duration
	// Err is the underlying cause, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "channel %s: ", e.Channel)
	switch e.Kind {
	case KindStatus:
		fmt.Fprintf(&b, "upstream answered %d", e.Status)
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	case KindTimeout:
		fmt.Fprintf(&b, "%s timeout: no progress within %v (waited %v)", e.Phase, e.Limit, e.Elapsed.Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "%s during %s", e.Kind, e.Phase)
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	}
	if e.Err != nil && e.Kind != KindStatus {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the attempt failed because a phase ran out of time.
func (e *Error) Timeout() bool { return e.Kind == KindTimeout }

// ErrClientGone is the cause of an attempt abandoned because the client
// disconnected or canceled.
var ErrClientGone = errors.New("client closed the request")

// ParseRetryAfter reads retry-after-ms (preferred) or Retry-After (seconds
// or an HTTP date) from h. It returns 0 when neither is usable.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms > 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
		if secs > 0 && secs < 1e9 {
			return time.Duration(secs * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// RetryAfterHint returns the upstream's Retry-After, for retry planning.
func (e *Error) RetryAfterHint() time.Duration { return e.RetryAfter }
