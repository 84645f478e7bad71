// Package idempotency makes a client request carrying an Idempotency-Key
// header run at most once per key and API key within a window.
//
// The relay uses a Store in three steps:
//
//  1. Check the header with ValidKey (answer 400 if it fails) and call
//     Begin with the API key id as scope, the header value as key and
//     Fingerprint(body).
//  2. Act on the Outcome: Started means run the request; InProgress means
//     answer 409; Replay means write the returned Result (as a stream when
//     Result.IsStream reports true); Mismatch means the key was used with a
//     different body (answer 422); TooLarge means the earlier request
//     finished but its answer was too large to keep (answer 409 and say so).
//  3. After a Started request, call exactly one of Finish or Abandon.
//     ShouldFinish tells which from the final status: an answer the client
//     would get again if it repeated the request (2xx, most 4xx) is
//     Finished so a repeat replays it; a failure a retry might cure (5xx,
//     408, 425, 429, client gone) is Abandoned so the client's retry runs.
//     Use a context that outlives the client's (context.WithoutCancel), so
//     a client that goes away does not leave the claim stuck until it
//     expires.
//
// Begin is called once per client request, never once per upstream
// attempt: tollgate's own retries and failover run inside the single claim,
// so they cannot open a second billable request under the same key.
//
// A Recorder collects the answer while it is relayed, so the relay can build
// the Result without buffering a stream it is flushing event by event.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
)

// HeaderName is the request header that carries the idempotency key.
const HeaderName = "Idempotency-Key"

// MaxKeyLen is the longest idempotency key ValidKey accepts, in bytes.
const MaxKeyLen = 255

// DefaultMaxResultBytes is the result size limit used when none is given:
// results whose Size exceeds it are not kept for replay.
const DefaultMaxResultBytes = 4 << 20

// ErrInvalidKey is returned by Begin when the key fails ValidKey.
var ErrInvalidKey = errors.New("idempotency: invalid key")

// ErrNotClaimed is returned by Finish and Abandon when (scope, key) holds no
// live claim: it was never begun, was already finished or abandoned, or the
// claim expired. Nothing is changed.
var ErrNotClaimed = errors.New("idempotency: key not claimed")

// ErrFull is returned by Begin when the store cannot take another claim
// without dropping one that is still running. The caller should answer
// 503 rather than run the request unprotected.
var ErrFull = errors.New("idempotency: store full")

// Result is a finished request's answer, stored for replay. It holds plain
// fields only so that any Store can serialise it as JSON.
type Result struct {
	// Status is the HTTP status that was sent to the client.
	Status int `json:"status"`
	// Header holds the few response headers worth replaying (Content-Type,
	// x-tollgate-*), chosen by the caller. Nil means none.
	Header map[string]string `json:"header"`
	// Body is a non-stream answer.
	Body []byte `json:"body,omitempty"`
	// Events is a stream answer: each event's data, in order, including the
	// final "[DONE]" if it was sent.
	Events [][]byte `json:"events,omitempty"`
	// Fingerprint is the Fingerprint of the request body. A Store sets it
	// to the fingerprint given to Begin; the value passed to Finish is
	// ignored.
	Fingerprint string `json:"fingerprint"`
	// TooLarge marks an answer that was not kept because it exceeded the
	// size limit; Body and Events are then empty. A repeat gets the
	// TooLarge outcome instead of a replay.
	TooLarge bool `json:"too_large,omitempty"`
}

// IsStream reports whether r is a stream answer, to be replayed as
// server-sent events.
func (r Result) IsStream() bool { return len(r.Events) > 0 }

// Size returns the bytes r counts against a result size limit: the body,
// every event, and every header name and value.
func (r Result) Size() int {
	n := len(r.Body)
	for _, e := range r.Events {
		n += len(e)
	}
	for k, v := range r.Header {
		n += len(k) + len(v)
	}
	return n
}

// Clone returns a deep copy of r that shares no memory with it. Body and
// the events are copied into one allocation. Nil slices and maps stay nil.
func (r Result) Clone() Result {
	c := r
	c.Header = maps.Clone(r.Header)
	n := len(r.Body)
	for _, e := range r.Events {
		n += len(e)
	}
	buf := make([]byte, 0, n)
	if r.Body != nil {
		buf = append(buf, r.Body...)
		c.Body = buf[:len(buf):len(buf)]
	}
	if r.Events != nil {
		c.Events = make([][]byte, len(r.Events))
		for i, e := range r.Events {
			start := len(buf)
			buf = append(buf, e...)
			c.Events[i] = buf[start:len(buf):len(buf)]
		}
	}
	return c
}

// Outcome is Begin's verdict on a request. The zero value is not a valid
// outcome; Begin returns it only together with an error.
type Outcome int

const (
	// Started means the caller now holds the claim: it must run the
	// request and then call Finish or Abandon.
	Started Outcome = iota + 1
	// InProgress means a request with the same key is still running; the
	// caller answers 409.
	InProgress
	// Replay means the request already finished; the caller answers with
	// the returned Result.
	Replay
	// Mismatch means the key was used before with a different request
	// body; the caller answers 422 (or 409).
	Mismatch
	// TooLarge means the request already finished but its answer was too
	// large to keep. The returned Result carries only Status and
	// Fingerprint. The caller answers 409 with a message saying the
	// earlier answer cannot be replayed.
	TooLarge
)

// String returns a short lower-case name for o, for logs.
func (o Outcome) String() string {
	switch o {
	case Started:
		return "started"
	case InProgress:
		return "in_progress"
	case Replay:
		return "replay"
	case Mismatch:
		return "mismatch"
	case TooLarge:
		return "too_large"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Store records which idempotency keys have been claimed and what their
// requests answered. Implementations are safe for concurrent use, and all
// instances sharing a Store agree: of any number of concurrent Begins for
// the same (scope, key), exactly one gets Started.
type Store interface {
	// Begin claims (scope, key) for a request whose body has the given
	// fingerprint. scope is the API key id, so keys of different API keys
	// never meet. It returns the Result for Replay and TooLarge, nil
	// otherwise; the Result is the caller's to keep and modify. A key that
	// fails ValidKey yields ErrInvalidKey.
	Begin(ctx context.Context, scope, key, fingerprint string) (Outcome, *Result, error)
	// Finish stores r as the answer of the claimed (scope, key) and keeps
	// it for the store's window; repeats then replay it. The store keeps
	// its own copy, so the caller may reuse r. A result larger than the
	// store's limit, or with TooLarge set, is kept as a TooLarge marker.
	// Use Finish for answers a repeat would get again (2xx and
	// deterministic 4xx; see ShouldFinish). Without a live claim it
	// returns ErrNotClaimed.
	Finish(ctx context.Context, scope, key string, r Result) error
	// Abandon releases the claim on (scope, key) without a result, so the
	// next Begin starts the request again. Use it for failures a retry may
	// cure (5xx, 408, 425, 429, timeouts, a client that went away before
	// the answer was complete). Without a live claim it returns
	// ErrNotClaimed and leaves any stored result alone.
	Abandon(ctx context.Context, scope, key string) error
}

// Fingerprint returns the hex-encoded SHA-256 of body.
func Fingerprint(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// ValidKey reports whether k is an acceptable idempotency key: 1 to
// MaxKeyLen bytes of printable ASCII (space through tilde), not starting or
// ending with a space.
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return k[0] != ' ' && k[len(k)-1] != ' '
}

// ShouldFinish reports whether a request that ended with status should be
// Finished (stored, so repeats replay it) rather than Abandoned (released,
// so a repeat runs again). Successes and deterministic client errors are
// finished. Server errors, 408 Request Timeout, 425 Too Early, 429 Too Many
// Requests, 499 (client closed the request) and anything outside 200-499
// are abandoned, because the client's retry may succeed.
func ShouldFinish(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests, 499:
		return false
	}
	return status >= 200 && status < 500
}
