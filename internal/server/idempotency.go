package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/idempotency"
	"github.com/tollgate/tollgate/internal/sse"
)

// headerReplay marks an answer replayed from an earlier request with the
// same Idempotency-Key.
const headerReplay = "X-Tollgate-Idempotent-Replay"

// beginIdempotent handles the Idempotency-Key header. A repeat of a
// running request gets 409, a repeat of a finished one its stored answer
// (a stream is replayed as a stream), a reuse with another body 422. For a
// first request it returns a writer that records the answer and a finish
// func that stores it (or releases the key, when the request failed in a
// way a retry may fix). done reports that the request was answered.
func (s *Server) beginIdempotent(w http.ResponseWriter, r *http.Request, rr *relayRequest) (http.ResponseWriter, func(), bool) {
	key := r.Header.Get(idempotency.HeaderName)
	if key == "" || s.opts.Idempotency == nil {
		return w, func() {}, false
	}
	if !idempotency.ValidKey(key) {
		s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_idempotency_key", Param: idempotency.HeaderName,
			Message: "The Idempotency-Key header must be 1 to 255 printable ASCII characters."})
		return w, nil, true
	}
	ctx := r.Context()
	scope := principalFrom(ctx).KeyID
	if recordFrom(ctx).dialect == dialectAnthropic {
		// A Messages answer must never replay to a chat request.
		scope += "/messages"
	}
	if recordFrom(ctx).dialect == dialectResponses {
		scope += "/responses" // nor a response object to either
	}
	fp := idempotency.Fingerprint(rr.body)
	outcome, res, err := s.opts.Idempotency.Begin(ctx, scope, key, fp)
	switch {
	case errors.Is(err, idempotency.ErrFull):
		s.writeError(w, r, &apiError{Status: http.StatusServiceUnavailable, Type: typeServerError, Code: "idempotency_full", RetryAfter: time.Second,
			Message: "tollgate is tracking too many running requests with an Idempotency-Key to take another; retry shortly.", Cause: err})
		return w, nil, true
	case err != nil:
		s.writeError(w, r, fmt.Errorf("idempotency: %w", err))
		return w, nil, true
	}
	switch outcome {
	case idempotency.InProgress:
		s.writeError(w, r, &apiError{Status: http.StatusConflict, Type: typeInvalidRequest, Code: "idempotency_in_progress",
			Message: fmt.Sprintf("A request with Idempotency-Key %q is still running. Wait for it to finish, then send the same request again to receive its answer.", key)})
		return w, nil, true
	case idempotency.Mismatch:
		s.writeError(w, r, &apiError{Status: http.StatusUnprocessableEntity, Type: typeInvalidRequest, Code: "idempotency_key_reused",
			Message: fmt.Sprintf("Idempotency-Key %q was already used with a different request body. Use a new key for a new request.", key)})
		return w, nil, true
	case idempotency.TooLarge:
		s.writeError(w, r, &apiError{Status: http.StatusConflict, Type: typeInvalidRequest, Code: "idempotency_result_unavailable",
			Message: fmt.Sprintf("The request with Idempotency-Key %q already finished, but its answer was too large to keep for replay. Use a new key to run it again.", key)})
		return w, nil, true
	case idempotency.Replay:
		s.replay(w, r, res)
		return w, nil, true
	}
	limit := s.opts.IdempotencyMaxBytes
	if limit <= 0 {
		limit = idempotency.DefaultMaxResultBytes
	}
	rw := &recordingWriter{ResponseWriter: w, limit: limit}
	claim := &idemClaim{rw: rw, scope: scope, key: key}
	recordFrom(ctx).claim = claim
	finish := func() { s.finishIdempotent(r, claim) }
	return rw, finish, false
}

// idemClaim is a request's hold on its Idempotency-Key.
type idemClaim struct {
	rw         *recordingWriter
	scope, key string
	settled    bool
}

// settleSuccess stores a successful answer just before its last bytes go
// out, so a client that repeats the request as soon as it has the answer
// gets the replay rather than a 409. For a stream, last is the final
// event's data; for a body, body is the whole answer.
func (s *Server) settleSuccess(r *http.Request, last, body []byte) {
	rec := recordFrom(r.Context())
	c := rec.claim
	if c == nil || c.settled {
		return
	}
	c.settled = true
	res := idempotency.Result{Status: http.StatusOK, Header: replayHeaders(c.rw.Header())}
	switch {
	case c.rw.over || c.rw.buf.Len()+len(last)+len(body) > c.rw.limit:
		res.TooLarge = true
	case body != nil:
		res.Body = bytes.Clone(body)
	default:
		res.Events = append(recordedEvents(c.rw.buf.Bytes()), bytes.Clone(last))
	}
	if err := s.opts.Idempotency.Finish(context.WithoutCancel(r.Context()), c.scope, c.key, res); err != nil {
		s.log.Warn("storing an idempotent answer failed", "request_id", rec.row.RequestID, "error", err)
	}
}

// recordedEvents splits a recorded event stream into event data.
func recordedEvents(raw []byte) [][]byte {
	var out [][]byte
	rd := sse.NewReader(bytes.NewReader(raw), sse.ReaderOptions{})
	for {
		ev, err := rd.Next()
		if err != nil {
			return out
		}
		out = append(out, bytes.Clone(ev.Data))
	}
}

// finishIdempotent settles the key when the request ends without a
// success already stored: a deterministic answer (4xx) is stored, and the
// key is released when a retry of the request could succeed (upstream
// failures, a cut stream, a client that left).
func (s *Server) finishIdempotent(r *http.Request, c *idemClaim) {
	if c.settled {
		return
	}
	c.settled = true
	rw, scope, key := c.rw, c.scope, c.key
	ctx := context.WithoutCancel(r.Context())
	rec := recordFrom(r.Context())
	status := rw.status
	if rec.statusOverride != 0 {
		status = rec.statusOverride
	}
	if !idempotency.ShouldFinish(status) || rec.row.Truncated || (rw.stream && rec.err != nil) {
		if err := s.opts.Idempotency.Abandon(ctx, scope, key); err != nil {
			s.log.Warn("releasing an idempotency key failed", "request_id", rec.row.RequestID, "error", err)
		}
		return
	}
	res := idempotency.Result{Status: status, Header: replayHeaders(rw.Header())}
	switch {
	case rw.over:
		res.TooLarge = true
	case rw.stream:
		res.Events = recordedEvents(rw.buf.Bytes())
	default:
		res.Body = rw.buf.Bytes()
	}
	if err := s.opts.Idempotency.Finish(ctx, scope, key, res); err != nil {
		s.log.Warn("storing an idempotent answer failed", "request_id", rec.row.RequestID, "error", err)
	}
}

// replay answers with a stored result.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, res *idempotency.Result) {
	h := w.Header()
	for k, v := range res.Header {
		h.Set(k, v)
	}
	h.Set(headerReplay, "true")
	rec := recordFrom(r.Context())
	rec.row.ErrorType = "idempotent_replay"
	if !res.IsStream() {
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
		return
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(res.Status)
	sw := sse.NewWriter(w)
	for _, ev := range res.Events {
		if sw.Event(replayEventName(rec, ev), ev) != nil {
			return
		}
	}
}

// replayHeaders picks the response headers worth replaying.
func replayHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		if k == "Content-Type" || (strings.HasPrefix(k, "X-Tollgate-") && !strings.HasPrefix(k, "X-Tollgate-Final-")) {
			out[k] = v[0]
		}
	}
	for _, pair := range [][2]string{{trailerAttempts, headerAttempts}, {trailerChannel, headerChannel}, {trailerModel, headerModel}, {trailerFallback, headerFallback}} {
		if v := h.Get(pair[0]); v != "" {
			out[pair[1]] = v
		}
	}
	return out
}

// recordingWriter keeps a copy of an answer, up to limit bytes.
type recordingWriter struct {
	http.ResponseWriter
	buf    bytes.Buffer
	limit  int
	status int
	stream bool
	over   bool
}

func (rw *recordingWriter) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
		ct := rw.Header().Get("Content-Type")
		rw.stream = strings.HasPrefix(ct, "text/event-stream")
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recordingWriter) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if !rw.over {
		if rw.buf.Len()+len(p) > rw.limit {
			rw.over = true
			rw.buf = bytes.Buffer{}
		} else {
			rw.buf.Write(p)
		}
	}
	return rw.ResponseWriter.Write(p)
}

func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Flush implements http.Flusher.
func (rw *recordingWriter) Flush() {
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}
