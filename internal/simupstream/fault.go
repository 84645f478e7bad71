package simupstream

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// FaultKind names a fault the simulator can inject.
type FaultKind string

// The fault kinds. Stream-only kinds have the non-stream effect noted.
const (
	// FaultNone serves the request healthily.
	FaultNone FaultKind = ""
	// FaultStatus answers at once with Fault.Status and an OpenAI error body.
	FaultStatus FaultKind = "status"
	// FaultReset resets the connection before any response byte. Behind an
	// http.Server the connection is hijacked and closed with SO_LINGER 0;
	// where hijacking is impossible (HTTP/2, Transport) the handler aborts
	// with http.ErrAbortHandler.
	FaultReset FaultKind = "reset"
	// FaultNoResponse never answers: the handler waits until the client
	// goes away.
	FaultNoResponse FaultKind = "no_response"
	// FaultSlowFirstToken sends stream headers and the role chunk at once
	// and waits Fault.Delay (on top of Profile.FirstTokenDelay) before the
	// first content chunk, as a slow real upstream does; non-stream
	// responses are delayed by Fault.Delay.
	FaultSlowFirstToken FaultKind = "slow_first_token"
	// FaultStall stops a stream after Fault.After tokens for Fault.Delay
	// (or until the client leaves when Delay is 0), then continues;
	// non-stream responses are delayed the same way.
	FaultStall FaultKind = "stall"
	// FaultCut aborts a stream after Fault.After tokens, so the client
	// sees an incomplete body (unexpected EOF), not a clean end;
	// non-stream responses are cut after half the body.
	FaultCut FaultKind = "cut"
	// FaultMalformedChunk sends one invalid `data: {"id":` event after
	// Fault.After tokens, then continues; non-stream responses get a
	// truncated JSON body with status 200.
	FaultMalformedChunk FaultKind = "malformed_chunk"
	// FaultNoDone ends a stream cleanly (finish reason and usage sent)
	// without the [DONE] marker; no effect on non-stream responses.
	FaultNoDone FaultKind = "no_done"
	// FaultNoUsage never reports usage, in bodies or streams, even when
	// the client asked for it.
	FaultNoUsage FaultKind = "no_usage"
)

// Valid reports whether k is one of the defined kinds (FaultNone included).
func (k FaultKind) Valid() bool {
	switch k {
	case FaultNone, FaultStatus, FaultReset, FaultNoResponse, FaultSlowFirstToken,
		FaultStall, FaultCut, FaultMalformedChunk, FaultNoDone, FaultNoUsage:
		return true
	}
	return false
}

// Fault describes a fault injected into a model's requests. The zero Fault
// injects nothing.
type Fault struct {
	Kind FaultKind
	// Status is the HTTP status of a "status" fault; 0 means 500. The body
	// matches the status: 429 is type "requests" with code
	// "rate_limit_exceeded", 5xx is "server_error", other 4xx are
	// "invalid_request_error".
	Status int
	// Code overrides the error code of a "status" fault. Two codes also
	// shape the body as OpenAI does: "context_length_exceeded" (param
	// "messages", a message naming the context limit) and
	// "content_filter" (a message saying the prompt was flagged); use
	// them with Status 400.
	Code string
	// Message overrides the error message of a "status" fault.
	Message string
	// RetryAfter, when > 0, sets Retry-After (whole seconds, rounded up)
	// and retry-after-ms on a "status" fault.
	RetryAfter time.Duration
	// After is the number of content tokens sent before a "stall", "cut"
	// or "malformed_chunk" fault; beyond the answer length it means after
	// the last token.
	After int
	// Delay is the wait of "slow_first_token" and "stall"; for "stall" 0
	// means until the client goes away.
	Delay time.Duration
	// Probability is the share of requests the fault applies to when in
	// (0,1), decided by the Simulator's seeded PRNG so runs repeat; 0 or
	// >= 1 means every request.
	Probability float64
	// Times, when > 0, limits the fault to the first Times requests it
	// applies to; later requests are healthy. SetProfile and Reset restart
	// the count.
	Times int
	// Every, when > 1, makes only every Every-th request to the model a
	// candidate for the fault: numbering the model's requests from 1, the
	// n-th is a candidate when n%Every == 0. Probability and Times then
	// apply among the candidates. SetProfile and Reset restart the
	// numbering. 0 and 1 make every request a candidate.
	Every int
}

// sleep waits d or until ctx is done, reporting ctx's error in that case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// preamble applies the profile latency and the faults that replace the
// response. It reports whether the handler should go on answering.
func preamble(w http.ResponseWriter, r *http.Request, c *call) bool {
	ctx := r.Context()
	if c.fault.Kind == FaultNoResponse {
		<-ctx.Done()
		return false
	}
	if sleep(ctx, c.profile.Latency) != nil {
		return false
	}
	switch c.fault.Kind {
	case FaultReset:
		resetConn(w)
		return false
	case FaultStatus:
		writeFaultStatus(w, c.model, c.fault)
		return false
	}
	return true
}

// resetConn closes the client connection abruptly. It never returns
// normally when the connection cannot be hijacked.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort: a plain close still ends the exchange
	}
	_ = conn.Close()
}

// writeFaultStatus writes the error response of a "status" fault.
func writeFaultStatus(w http.ResponseWriter, model string, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		ms := (f.RetryAfter + time.Millisecond - 1) / time.Millisecond
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(int64(ms), 10))
	}
	writeError(w, status, statusBody(status, model, f))
}

// statusBody builds the OpenAI error body matching status.
func statusBody(status int, model string, f Fault) openai.ErrorResponse {
	typ, code, param, msg := openai.TypeInvalidRequest, "", "", ""
	switch {
	case status == http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
		msg = "Rate limit reached for " + model + " (simulated). Please try again later."
	case status == http.StatusUnauthorized:
		code, msg = "invalid_api_key", "Incorrect API key provided (simulated)."
	case status == http.StatusForbidden:
		typ, msg = "request_forbidden", "Access to "+model+" is forbidden (simulated)."
	case status == http.StatusNotFound:
		code, param = "model_not_found", "model"
		msg = "The model `" + model + "` does not exist or you do not have access to it."
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway:
		typ, msg = openai.TypeServerError, "The engine is currently overloaded, please try again later. (simulated)"
	case status >= 500:
		typ, msg = openai.TypeServerError, "The server had an error while processing your request. (simulated)"
	default:
		msg = "Invalid request (simulated)."
	}
	switch code = cmp.Or(f.Code, code); code {
	case "context_length_exceeded":
		param = "messages"
		msg = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. " +
			"Please reduce the length of the messages."
	case "content_filter":
		msg = "Your prompt was flagged by the content filter and was not processed (simulated). " +
			"Please modify your prompt and retry."
	}
	if f.Message != "" {
		msg = f.Message
	}
	return openai.NewError(typ, code, param, msg)
}
