package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/governance"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/redact"
)

// Error types, as OpenAI names them so SDKs classify them alike.
const (
	typeInvalidRequest = openai.TypeInvalidRequest
	typeServerError    = openai.TypeServerError
	typeForbidden      = "request_forbidden"
	typeRequests       = "requests"
	typeInsufficient   = openai.TypeInsufficient
)

// statusClientClosed is logged (never sent) when the client went away.
const statusClientClosed = 499

// apiError is an error answered to the client: the status and the
// OpenAI-shaped body. Message is public; Cause is for the log only.
type apiError struct {
	Status     int
	Type       string
	Code       string
	Param      string
	Message    string
	RetryAfter time.Duration
	// ResetAt is when the limit that refused the request resets.
	ResetAt time.Time
	// NoRetry sets x-should-retry: false, telling SDKs a retry is pointless.
	NoRetry bool
	Cause   error
}

func (e *apiError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Type, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

func (e *apiError) Unwrap() error { return e.Cause }

// writeError answers err as an OpenAI-shaped error and records it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	rec := recordFrom(r.Context())
	if rec != nil {
		rec.err = ae
	}
	if ae.Status >= 500 {
		var keyID, model string
		if rec != nil {
			keyID, model = rec.row.KeyID, rec.row.ModelRequested
		}
		s.log.Warn("request failed", "request_id", requestID(r), "key_id", keyID, "model", model,
			"status", ae.Status, "code", ae.Code, "error", errString(ae))
	}
	writeErrorTo(w, r, ae)
}

// writeErrorTo writes the error body and headers.
func writeErrorTo(w http.ResponseWriter, r *http.Request, ae *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(ae.RetryAfter.Seconds())), 10))
		// Rounded up, like Retry-After: a client that waits exactly this
		// long must not come back a fraction of a millisecond early.
		h.Set("retry-after-ms", strconv.FormatInt(int64((ae.RetryAfter+time.Millisecond-1)/time.Millisecond), 10))
	}
	if ae.NoRetry {
		h.Set("x-should-retry", "false")
	}
	if rec := recordFrom(r.Context()); rec != nil && rec.dialect == dialectAnthropic {
		writeAnthropicError(w, ae, rec.row.RequestID)
		return
	}
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(errorBody(ae, requestID(r)))
}

// errorBody builds the envelope; the message names the request id so a
// user can quote it.
func errorBody(ae *apiError, id string) openai.ErrorResponse {
	msg := ae.Message
	if id != "" {
		msg += " (request id: " + id + ")"
	}
	body := openai.NewError(ae.Type, ae.Code, ae.Param, msg)
	if !ae.ResetAt.IsZero() {
		// To the millisecond, rounded up, so that waiting until resetAt is
		// never too early (whole seconds would cut up to a second off).
		body.Error.ResetAt = ae.ResetAt.Add(time.Millisecond - 1).Truncate(time.Millisecond).UTC().Format(time.RFC3339Nano)
	}
	return body
}

func requestID(r *http.Request) string {
	if rec := recordFrom(r.Context()); rec != nil {
		return rec.row.RequestID
	}
	return ""
}

func errString(ae *apiError) string {
	if ae.Cause != nil {
		return ae.Cause.Error()
	}
	return ae.Message
}

// toAPIError maps any error to the answer the client gets. It is the one
// place where domain errors become statuses.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return upstreamError(pe)
	}
	var le *governance.LimitError
	if errors.As(err, &le) {
		return limitError(le)
	}
	if errors.Is(err, governance.ErrUnavailable) {
		return &apiError{Status: http.StatusServiceUnavailable, Type: typeServerError, Code: "limits_unavailable", RetryAfter: time.Second,
			Message: "tollgate cannot check your limits right now (its limits backend is unreachable), so it does not send requests upstream. Retry shortly.", Cause: err}
	}
	if errors.Is(err, governance.ErrGroupModel) {
		return &apiError{Status: http.StatusForbidden, Type: typeForbidden, Code: "model_not_in_group", Param: "model",
			Message: "This model is not available to your key's group. Use a model listed by GET /v1/models, or ask your tollgate operator to add it to the group.", Cause: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: typeServerError, Code: "internal_error",
		Message: "tollgate hit an internal error; it has been logged. Retry, and report the request id if it persists.", Cause: err}
}

// authError explains a failed key check.
func authError(err error, secret string) *apiError {
	ae := &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key", Cause: err}
	masked := maskKey(secret)
	switch {
	case errors.Is(err, auth.ErrMissingKey):
		ae.Message = "You didn't provide an API key. Send your tollgate key as 'Authorization: Bearer sk-tg-...'; an operator creates keys with `tollgate keys create --name NAME`."
	case errors.Is(err, auth.ErrRevokedKey):
		ae.Message = "The API key " + masked + " has been revoked. Ask your tollgate operator for a new key."
	case errors.Is(err, auth.ErrExpiredKey):
		ae.Message = "The API key " + masked + " has expired. Ask your tollgate operator for a new key or a later expiry."
	case !auth.LooksLikeKey(secret):
		ae.Message = "The API key provided is not a tollgate key (they start with 'sk-tg-'). Use the key your tollgate operator gave you, not a provider's key."
	default:
		ae.Message = "Incorrect API key provided: " + masked + ". Check that the whole key was copied, or ask your tollgate operator for a new one."
	}
	return ae
}

// upstreamError maps a failed upstream attempt, saying plainly that the
// upstream (not the caller's key) is the source.
func upstreamError(pe *provider.Error) *apiError {
	ae := &apiError{Cause: pe}
	switch pe.Kind {
	case provider.KindStatus:
		return upstreamStatusError(pe)
	case provider.KindTimeout:
		ae.Status, ae.Type, ae.Code = http.StatusGatewayTimeout, typeServerError, "upstream_timeout"
		ae.Message = fmt.Sprintf("Timed out in the %s phase: channel %s made no progress within %v (waited %v). Retry; if it persists the upstream is slow or unreachable.",
			phaseName(pe.Phase), pe.Channel, pe.Limit, pe.Elapsed.Round(time.Millisecond))
	case provider.KindConnect:
		ae.Status, ae.Type, ae.Code = http.StatusBadGateway, typeServerError, "upstream_unreachable"
		ae.Message = fmt.Sprintf("tollgate could not connect to the upstream of channel %s. Retry shortly; if it persists the operator should check the channel's base_url and network.", pe.Channel)
	case provider.KindCanceled:
		ae.Status, ae.Type, ae.Code = statusClientClosed, typeInvalidRequest, "client_closed"
		ae.Message = "The client closed the request before it finished."
	default:
		ae.Status, ae.Type, ae.Code = http.StatusBadGateway, typeServerError, "upstream_"+string(pe.Kind)
		ae.Message = fmt.Sprintf("The upstream of channel %s failed: %s. Retry; if it persists report the request id.", pe.Channel, describe(pe))
	}
	return ae
}

func upstreamStatusError(pe *provider.Error) *apiError {
	ae := &apiError{Cause: pe, Type: pe.Type, Code: pe.Code}
	detail := strings.TrimRight(pe.Message, ". ")
	switch {
	case pe.Status == http.StatusTooManyRequests:
		ae.Status, ae.RetryAfter = http.StatusTooManyRequests, pe.RetryAfter
		if pe.Code == "insufficient_quota" || pe.Type == "insufficient_quota" {
			ae.Type, ae.Code, ae.NoRetry = typeInsufficient, "insufficient_quota", true
			ae.Message = fmt.Sprintf("The upstream provider behind channel %s reports its quota is exhausted (not your tollgate key's limit): %s. The operator must top up the provider account.", pe.Channel, detail)
			return ae
		}
		ae.Type, ae.Code = typeRequests, "rate_limit_exceeded"
		if pe.Type == openai.TypeTokens {
			ae.Type = openai.TypeTokens // a token-rate limit stays one
		}
		ae.Message = fmt.Sprintf("The upstream provider behind channel %s is rate limiting (this is the provider's limit, not your tollgate key's): %s.%s", pe.Channel, detail, retryHint(pe.RetryAfter))
	case pe.Status == http.StatusUnauthorized || pe.Status == http.StatusForbidden:
		ae.Status, ae.Type, ae.Code, ae.NoRetry = http.StatusBadGateway, typeServerError, "upstream_auth_error", true
		ae.Message = fmt.Sprintf("The upstream of channel %s rejected tollgate's credentials (%d). Your key is fine; the operator must fix the channel's api_key.", pe.Channel, pe.Status)
	case pe.Status == http.StatusNotFound:
		ae.Status, ae.Type, ae.Code, ae.NoRetry = http.StatusBadGateway, typeServerError, "upstream_not_found", true
		ae.Message = fmt.Sprintf("The upstream of channel %s answered 404: %s. The operator should check the route's upstream model name and the channel's base_url.", pe.Channel, detail)
	case pe.Status == http.StatusRequestTimeout || pe.Status == http.StatusGatewayTimeout:
		ae.Status, ae.Type = http.StatusGatewayTimeout, typeServerError
		ae.Message = fmt.Sprintf("The upstream of channel %s timed out (%d): %s. Retry.", pe.Channel, pe.Status, detail)
	case pe.Status >= 400 && pe.Status < 500:
		ae.Status = pe.Status
		if ae.Type == "" {
			ae.Type = typeInvalidRequest
		}
		ae.Message = fmt.Sprintf("The upstream of channel %s rejected the request: %s", pe.Channel, detail)
	case pe.Status == http.StatusServiceUnavailable || pe.Status == 529:
		ae.Status, ae.Type, ae.RetryAfter = http.StatusServiceUnavailable, typeServerError, pe.RetryAfter
		if ae.Code == "" {
			ae.Code = "overloaded"
		}
		ae.Message = fmt.Sprintf("The upstream of channel %s is overloaded (%d): %s.%s", pe.Channel, pe.Status, detail, retryHint(pe.RetryAfter))
	default:
		ae.Status, ae.Type = http.StatusBadGateway, typeServerError
		ae.Message = fmt.Sprintf("The upstream of channel %s failed with %d: %s. Retry; if it persists report the request id.", pe.Channel, pe.Status, detail)
	}
	return ae
}

func retryHint(d time.Duration) string {
	if d <= 0 {
		return " Retry with backoff."
	}
	return fmt.Sprintf(" Retry after %v.", d.Round(time.Millisecond))
}

func phaseName(p provider.Phase) string {
	switch p {
	case provider.PhaseResponseHeader:
		return "response header (waiting for the upstream to start answering)"
	case provider.PhaseFirstToken:
		return "first token (stream open, waiting for the first event)"
	case provider.PhaseIdle:
		return "idle (gap between stream events)"
	case provider.PhaseBody:
		return "body (reading the answer)"
	}
	return string(p)
}

func describe(pe *provider.Error) string {
	if pe.Message != "" {
		return pe.Message
	}
	return string(pe.Kind) + " during " + string(pe.Phase)
}

// maskKey shows the last four characters of a presented key, never more.
func maskKey(secret string) string {
	if auth.LooksLikeKey(secret) {
		return redact.Mask(keyPrefix, secret)
	}
	return redact.Mask("", secret)
}

// keyPrefix starts every tollgate key.
const keyPrefix = "sk-tg-"
