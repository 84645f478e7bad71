package openai

// Error types used in the "type" field of an error body. The set mirrors
// what OpenAI itself returns so that SDKs classify tollgate's errors the
// same way they classify OpenAI's.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeServerError    = "server_error"
	TypeRequests       = "requests" // 429 for a request-rate limit
	TypeTokens         = "tokens"   // 429 for a token-rate limit
	TypeInsufficient   = "insufficient_quota"
	TypeForbidden      = "request_forbidden"
)

// ErrorBody is the inner object of an OpenAI error response.
// Param and Code are null on the wire when empty.
type ErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
	// ResetAt is tollgate's addition on limit errors: when the limit
	// resets (RFC 3339).
	ResetAt string `json:"resetAt,omitempty"`
}

// ErrorResponse is the envelope OpenAI uses for every error:
// {"error":{"message":...,"type":...,"param":...,"code":...}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// NewError builds an error envelope; empty param and code become null.
func NewError(typ, code, param, message string) ErrorResponse {
	e := ErrorResponse{Error: ErrorBody{Message: message, Type: typ}}
	if param != "" {
		e.Error.Param = &param
	}
	if code != "" {
		e.Error.Code = &code
	}
	return e
}
