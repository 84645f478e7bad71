package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
)

func TestUpstreamError(t *testing.T) {
	status := func(code int, typ, errCode string) *provider.Error {
		return &provider.Error{Kind: provider.KindStatus, Phase: provider.PhaseResponseHeader, Channel: "up",
			Status: code, Type: typ, Code: errCode, Message: "upstream says no."}
	}
	withRetry := func(pe *provider.Error, d time.Duration) *provider.Error { pe.RetryAfter = d; return pe }
	kind := func(k provider.Kind, p provider.Phase) *provider.Error {
		return &provider.Error{Kind: k, Phase: p, Channel: "up", Message: "it broke", Limit: 100 * time.Millisecond, Elapsed: 101 * time.Millisecond}
	}
	tests := []struct {
		name       string
		pe         *provider.Error
		status     int
		typ        string
		code       string
		noRetry    bool
		retryAfter time.Duration
		msgHas     []string
	}{
		{name: "429 rate limit keeps Retry-After", pe: withRetry(status(429, "requests", "rate_limit_exceeded"), 2*time.Second),
			status: 429, typ: "requests", code: "rate_limit_exceeded", retryAfter: 2 * time.Second, msgHas: []string{"channel up", "not your tollgate key", "Retry after 2s"}},
		{name: "429 token limit keeps its type", pe: status(429, "tokens", "rate_limit_exceeded"),
			status: 429, typ: "tokens", code: "rate_limit_exceeded"},
		{name: "429 without a body", pe: status(429, "", ""),
			status: 429, typ: "requests", code: "rate_limit_exceeded", msgHas: []string{"Retry with backoff"}},
		{name: "429 quota by code", pe: status(429, "", "insufficient_quota"),
			status: 429, typ: "insufficient_quota", code: "insufficient_quota", noRetry: true, msgHas: []string{"quota"}},
		{name: "429 quota by type", pe: status(429, "insufficient_quota", ""),
			status: 429, typ: "insufficient_quota", code: "insufficient_quota", noRetry: true},
		{name: "401 is the gateway's credential", pe: status(401, "invalid_request_error", "invalid_api_key"),
			status: 502, typ: "server_error", code: "upstream_auth_error", noRetry: true, msgHas: []string{"Your key is fine"}},
		{name: "403 is the gateway's credential", pe: status(403, "request_forbidden", ""),
			status: 502, typ: "server_error", code: "upstream_auth_error", noRetry: true},
		{name: "404 is a routing mistake", pe: status(404, "invalid_request_error", "model_not_found"),
			status: 502, typ: "server_error", code: "upstream_not_found", noRetry: true, msgHas: []string{"upstream model name"}},
		{name: "400 context length passes through", pe: status(400, "invalid_request_error", "context_length_exceeded"),
			status: 400, typ: "invalid_request_error", code: "context_length_exceeded", msgHas: []string{"upstream says no"}},
		{name: "422 without a type", pe: status(422, "", ""),
			status: 422, typ: "invalid_request_error"},
		{name: "408", pe: status(408, "", ""), status: 504, typ: "server_error"},
		{name: "504", pe: status(504, "server_error", ""), status: 504, typ: "server_error"},
		{name: "500", pe: status(500, "server_error", ""), status: 502, typ: "server_error", msgHas: []string{"500"}},
		{name: "502", pe: status(502, "server_error", ""), status: 502, typ: "server_error"},
		{name: "503 keeps Retry-After", pe: withRetry(status(503, "server_error", ""), 3*time.Second),
			status: 503, typ: "server_error", code: "overloaded", retryAfter: 3 * time.Second},
		{name: "503 keeps the upstream code", pe: status(503, "server_error", "engine_busy"),
			status: 503, typ: "server_error", code: "engine_busy"},
		{name: "529", pe: status(529, "overloaded_error", ""), status: 503, typ: "server_error", code: "overloaded"},
		{name: "response header timeout", pe: kind(provider.KindTimeout, provider.PhaseResponseHeader),
			status: 504, typ: "server_error", code: "upstream_timeout", msgHas: []string{"response header", "100ms", "101ms"}},
		{name: "first token timeout", pe: kind(provider.KindTimeout, provider.PhaseFirstToken),
			status: 504, typ: "server_error", code: "upstream_timeout", msgHas: []string{"first token"}},
		{name: "idle timeout", pe: kind(provider.KindTimeout, provider.PhaseIdle),
			status: 504, typ: "server_error", code: "upstream_timeout", msgHas: []string{"idle"}},
		{name: "connect", pe: kind(provider.KindConnect, provider.PhaseConnect),
			status: 502, typ: "server_error", code: "upstream_unreachable", msgHas: []string{"base_url"}},
		{name: "client left", pe: kind(provider.KindCanceled, provider.PhaseResponseHeader),
			status: 499, typ: "invalid_request_error", code: "client_closed"},
		{name: "network", pe: kind(provider.KindNetwork, provider.PhaseResponseHeader),
			status: 502, typ: "server_error", code: "upstream_network", msgHas: []string{"it broke"}},
		{name: "truncated", pe: kind(provider.KindTruncated, provider.PhaseIdle),
			status: 502, typ: "server_error", code: "upstream_truncated"},
		{name: "malformed", pe: kind(provider.KindMalformed, provider.PhaseFirstToken),
			status: 502, typ: "server_error", code: "upstream_malformed"},
		{name: "stream error", pe: kind(provider.KindStreamError, provider.PhaseIdle),
			status: 502, typ: "server_error", code: "upstream_stream_error", msgHas: []string{"it broke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := upstreamError(tt.pe)
			if ae.Status != tt.status || ae.Type != tt.typ || ae.Code != tt.code {
				t.Errorf("got %d %q %q, want %d %q %q", ae.Status, ae.Type, ae.Code, tt.status, tt.typ, tt.code)
			}
			if ae.NoRetry != tt.noRetry || ae.RetryAfter != tt.retryAfter {
				t.Errorf("no-retry %v retry-after %v, want %v %v", ae.NoRetry, ae.RetryAfter, tt.noRetry, tt.retryAfter)
			}
			for _, s := range tt.msgHas {
				if !strings.Contains(ae.Message, s) {
					t.Errorf("message %q does not contain %q", ae.Message, s)
				}
			}
			if ae.Message == "" {
				t.Error("empty message")
			}
			if !errors.Is(ae, tt.pe) {
				t.Error("the provider error is not kept as the cause")
			}
			// toAPIError finds the provider error however it is wrapped.
			if got := toAPIError(fmt.Errorf("attempt 1: %w", tt.pe)); got.Status != ae.Status || got.Code != ae.Code {
				t.Errorf("toAPIError of the wrapped error = %d %q", got.Status, got.Code)
			}
		})
	}
}
