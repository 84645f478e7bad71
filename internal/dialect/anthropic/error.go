package anthropic

import (
	"encoding/json"
	"net/http"
)

// ErrorType names the Anthropic error type of an HTTP status.
func ErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// ErrorResponse is Anthropic's error envelope.
type ErrorResponse struct {
	Type      string      `json:"type"` // "error"
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// ErrorDetail is the inner object of an ErrorResponse.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ErrorBody encodes the error answer for status, as sent in a response
// body and as the data of an in-stream "error" event.
func ErrorBody(status int, message, requestID string) []byte {
	b, _ := json.Marshal(ErrorResponse{Type: "error", Error: ErrorDetail{Type: ErrorType(status), Message: message}, RequestID: requestID})
	return b
}
