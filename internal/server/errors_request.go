package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tollgate/tollgate/internal/jsonpeek"
)

// badJSON explains a body that is not a JSON object.
func badJSON(err error) *apiError {
	msg := "We could not parse the JSON body of your request. Send a JSON object with Content-Type: application/json."
	var se *jsonpeek.SyntaxError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("We could not parse the JSON body of your request (%s at byte %d). Send a valid JSON object with Content-Type: application/json.", se.Msg, se.Offset)
	} else if errors.Is(err, jsonpeek.ErrNotObject) {
		msg = "The request body must be a JSON object such as {\"model\": \"...\", ...}."
	}
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_json", Message: msg, Cause: err}
}

func invalidField(param, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_value", Param: param,
		Message: "Invalid request: " + msg + "."}
}

func modelNotFound(model string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it. List the models your key can use with GET /v1/models.", clip(model, 200))}
}

func modelForbidden(model, masked string) *apiError {
	return &apiError{Status: http.StatusForbidden, Type: typeForbidden, Code: "model_not_allowed", Param: "model",
		Message: fmt.Sprintf("The key %s is not allowed to use the model `%s`. Use a model listed by GET /v1/models, or ask your tollgate operator to allow this one for your key.", masked, clip(model, 200))}
}

func tooLarge(limit int64) *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
		Message: fmt.Sprintf("The request body is larger than this server's %s limit. Send a smaller request (fewer or shorter messages, smaller images), or ask the operator to raise server.max_body_bytes.", formatBytes(limit))}
}

// formatBytes renders a byte count with the largest exact binary unit.
func formatBytes(n int64) string {
	switch {
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n > 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
