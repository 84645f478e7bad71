package anthropic

import (
	"encoding/json"
	"testing"
)

func TestErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   string
	}{
		{400, "invalid_request_error"}, {401, "authentication_error"}, {402, "billing_error"}, {403, "permission_error"},
		{404, "not_found_error"}, {409, "invalid_request_error"}, {413, "request_too_large"}, {429, "rate_limit_error"},
		{500, "api_error"}, {502, "api_error"}, {503, "overloaded_error"}, {504, "timeout_error"}, {529, "overloaded_error"},
	}
	for _, tt := range tests {
		var e ErrorResponse
		if err := json.Unmarshal(ErrorBody(tt.status, "boom", "req_1"), &e); err != nil {
			t.Fatal(err)
		}
		if e.Type != "error" || e.Error.Type != tt.want || e.Error.Message != "boom" || e.RequestID != "req_1" {
			t.Errorf("status %d: %+v, want error type %s", tt.status, e, tt.want)
		}
	}
}
