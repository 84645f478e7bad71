package simupstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/tollgate/tollgate/internal/openai"
)

// bufPool recycles request-body buffers.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decodeBody reads r's JSON body into v, answering 400 (or 413) and
// reporting false when it cannot. It returns the raw body in a pooled
// buffer (also on failure, when one was taken), which the caller hands back
// with putBuf once done with it.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) (*bytes.Buffer, bool) {
	buf := bufPool.Get().(*bytes.Buffer)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, openai.NewError(openai.TypeInvalidRequest, "", "",
				"Request body is larger than "+strconv.Itoa(maxBodyBytes)+" bytes."))
			return buf, false
		}
		badRequest(w, "", "", "Could not read the request body: "+err.Error())
		return buf, false
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		badRequest(w, "", "", "We could not parse the JSON body of your request: "+err.Error())
		return buf, false
	}
	return buf, true
}

// putBuf returns a buffer from decodeBody to the pool, unless it grew too
// large to keep.
func putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		buf.Reset()
		bufPool.Put(buf)
	}
}

// badRequest answers 400 invalid_request_error.
func badRequest(w http.ResponseWriter, param, code, msg string) {
	writeError(w, http.StatusBadRequest, openai.NewError(openai.TypeInvalidRequest, code, param, msg))
}

// writeError answers status with an OpenAI error body.
func writeError(w http.ResponseWriter, status int, e openai.ErrorResponse) {
	writeValue(w, status, e)
}

// writeValue answers status with v encoded as JSON.
func writeValue(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only our own types are encoded; this is a bug
		panic(err)
	}
	writeBody(w, status, body)
}

// writeBody answers status with a JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that left needs no answer
}

// respond sends a successful non-stream body, applying the call's
// non-stream fault effects.
func respond(w http.ResponseWriter, r *http.Request, c *call, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	ctx := r.Context()
	switch c.fault.Kind {
	case FaultSlowFirstToken:
		if sleep(ctx, c.fault.Delay) != nil {
			return
		}
	case FaultStall:
		if c.fault.Delay <= 0 {
			<-ctx.Done()
			return
		}
		if sleep(ctx, c.fault.Delay) != nil {
			return
		}
	case FaultCut:
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case FaultMalformedChunk:
		body = body[:min(len(body), len(`{"id":`))]
	}
	writeBody(w, http.StatusOK, body)
}
