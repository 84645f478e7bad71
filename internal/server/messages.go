package server

import (
	"errors"
	"net/http"
	"strings"

	anthropicdialect "github.com/tollgate/tollgate/internal/dialect/anthropic"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// dialect is the API a client speaks. Requests of every dialect run
// through the same relay in the OpenAI format; the dialect shapes the
// request on the way in and the answer and errors on the way out.
type dialect uint8

const (
	// dialectOpenAI is the default: bodies and errors pass as they are.
	dialectOpenAI dialect = iota
	// dialectAnthropic is the Messages API (POST /v1/messages).
	dialectAnthropic
	// dialectResponses is the Responses API (POST /v1/responses, responses.go).
	dialectResponses
)

// speaking marks the requests h serves as coming from clients of d, so
// that every answer, errors from the middleware included, takes d's shape.
func (s *Server) speaking(d dialect, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		rec.dialect = d
		if d == dialectAnthropic {
			// The Anthropic SDKs report this header as the request id.
			w.Header().Set("request-id", rec.row.RequestID)
		}
		h.ServeHTTP(w, r)
	})
}

// messages serves POST /v1/messages. A request whose model routes only
// to channels that speak the Messages API is passed through as it is
// (messages_passthrough.go). Any other is translated into an OpenAI chat
// request and relayed like any chat completion (routing, retries,
// failover, limits, idempotency, request log), and the answer is
// translated back. The anthropic-version header is accepted and not
// required.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.messagesPassthrough(w, r, body) {
		return
	}
	req, err := anthropicdialect.TranslateRequest(body)
	if err != nil {
		var re *anthropicdialect.RequestError
		if errors.As(err, &re) {
			s.writeError(w, r, invalidField(re.Param, strings.TrimSuffix(re.Message, ".")))
			return
		}
		s.writeError(w, r, err)
		return
	}
	s.relayBody(w, r, endpointChat, req.Body)
}

// answerBody returns the non-stream answer in the client's dialect. An
// answer that cannot be translated fails the attempt, like invalid JSON.
func answerBody(rec *record, rr *relayRequest, a router.Attempt, body []byte) ([]byte, error) {
	if rr.passthrough() {
		return body, nil
	}
	if rec.resp != nil { // Responses API, responses.go
		return rec.resp.body(a, body)
	}
	if rec.dialect != dialectAnthropic {
		return body, nil
	}
	out, err := anthropicdialect.TranslateResponse(body, anthropicdialect.ResponseOptions{Model: rr.requested, ID: rec.row.RequestID})
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseBody, Channel: a.Target.Channel,
			Message: "the upstream's answer cannot be translated for a Messages API client: " + err.Error(), Err: err}
	}
	return out, nil
}

// writeAnthropicError writes ae in the Messages API's error shape; the
// status and retry headers are already set.
func writeAnthropicError(w http.ResponseWriter, ae *apiError, requestID string) {
	msg := ae.Message
	if requestID != "" {
		msg += " (request id: " + requestID + ")"
	}
	w.WriteHeader(ae.Status)
	_, _ = w.Write(append(anthropicdialect.ErrorBody(ae.Status, msg, requestID), '\n'))
}

// apiKeyHeader extracts the key from the Anthropic-style x-api-key header.
func apiKeyHeader(r *http.Request) (string, bool) {
	key := strings.TrimSpace(r.Header.Get("X-Api-Key"))
	return key, key != ""
}
