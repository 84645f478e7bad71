package server

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/metrics"
	"github.com/tollgate/tollgate/internal/store"
)

// ctxKey types the context keys of this package.
type ctxKey int

const (
	recordKey ctxKey = iota
)

// record is the per-request state the middleware and handlers share; it
// becomes the request log row when the request ends.
type record struct {
	row        store.RequestLog
	start      time.Time
	err        *apiError // the error answered, if any
	upstreamID string    // upstream request id
	// statusOverride is the status to log when it differs from what was
	// written, e.g. 499 for a client that left.
	statusOverride int
	// Bounded labels and facts for metrics.
	endpoint string // chat, completions, embeddings, models, admin, other
	model    string // the canonical configured model, "" when unresolved
	attempts []metrics.Attempt
	upstream time.Duration // time spent waiting on upstreams and backoffs
	claim    *idemClaim    // the request's Idempotency-Key, if any
	// contentChunks and answerBytes size an answer whose upstream reported
	// no usage, so it can be estimated rather than charged at zero.
	contentChunks int64
	answerBytes   int64
	timings       []attemptTiming // per attempt, indexed by Attempt.N-1
	span          trace.Span      // the request's trace span; nil when tracing is off
	dialect       dialect         // the API the client speaks; shapes answers and errors
	resp          *responsesState // a Responses API request's answer state (responses.go)
	// bodies keeps the request and answer bodies for the request log;
	// nil unless the key has log_bodies on (bodylog.go).
	bodies *bodyLog
	// principal is the caller's key once authenticated (principalFrom).
	principal auth.Principal
}

func recordFrom(ctx context.Context) *record {
	rec, _ := ctx.Value(recordKey).(*record)
	return rec
}

// principalFrom returns the caller's key, set by authenticated; the zero
// Principal before that or on routes without a key.
func principalFrom(ctx context.Context) auth.Principal {
	if rec := recordFrom(ctx); rec != nil {
		return rec.principal
	}
	return auth.Principal{}
}

var recordPool = sync.Pool{New: func() any { return new(record) }}

// withRequestID assigns every request an id (the client's X-Request-Id
// when well-formed), sets it on the response and starts its record.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		rec := recordPool.Get().(*record)
		*rec = record{start: s.opts.Now()}
		rec.row.RequestID = id
		rec.row.Time = rec.start
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), recordKey, rec)))
		recordPool.Put(rec)
	})
}

// newRequestID returns "req_" and 24 hex digits: the time in unix
// milliseconds (12 digits) and 48 random bits. IDs made later sort later,
// so the request log's index on request_id grows at its end instead of
// touching a random page for every row, and an ID tells roughly when the
// request came.
func newRequestID() string {
	var b [12]byte
	ms, r := uint64(time.Now().UnixMilli()), rand.Uint64()
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
		b[6+i] = byte(r >> (8 * i))
	}
	return "req_" + hex.EncodeToString(b[:])
}

// validRequestID accepts 1 to 128 characters of [A-Za-z0-9._:-].
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// recoverPanics turns a handler panic into a 500 (or a cut connection if
// the answer had started), logging the stack without request bodies.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			rec := recordFrom(r.Context())
			s.log.Error("panic while serving request", "request_id", rec.row.RequestID, "panic", v, "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.wrote {
				panic(http.ErrAbortHandler)
			}
			s.writeError(w, r, &apiError{Status: http.StatusInternalServerError, Type: typeServerError, Code: "internal_error",
				Message: "tollgate hit an internal error while handling this request; it has been logged. Retry, and report the request id if it persists."})
		}()
		next.ServeHTTP(w, r)
	})
}

// logged records the request's outcome in the request log.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		lio := &loggedIO{sw: statusWriter{ResponseWriter: w, now: s.opts.Now, start: rec.start}}
		sw := &lio.sw
		if r.Body != nil {
			lio.body.ReadCloser = r.Body
			r.Body = &lio.body
		}
		rec.row.Endpoint = clip(r.URL.Path, 200)
		rec.endpoint = endpointLabel(r.URL.Path)
		rec.row.ClientIP = clientIP(r)
		rec.row.UserAgent = clip(r.UserAgent(), 200)
		s.startTrace(r, rec)
		defer func() {
			v := recover()
			rec.row.RequestBytes = lio.body.n
			s.logRow(rec, sw, v != nil)
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRow hands the finished request's row to the request log.
func (s *Server) logRow(rec *record, sw *statusWriter, panicked bool) {
	row := rec.row
	row.Status = sw.status
	if rec.statusOverride != 0 {
		row.Status = rec.statusOverride
	}
	switch {
	case panicked && !sw.wrote:
		row.Status = http.StatusInternalServerError
		row.ErrorType = "internal_error"
	case row.Status == 0:
		row.Status = http.StatusOK
	}
	if rec.err != nil {
		row.ErrorType = rec.err.Code
		if row.ErrorType == "" {
			row.ErrorType = rec.err.Type
		}
		row.ErrorMessage = rec.err.Message
	}
	if row.Status == 499 && row.ErrorType == "" {
		row.ErrorType = "client_closed"
	}
	row.TTFB = sw.ttfb
	row.Duration = s.opts.Now().Sub(rec.start)
	row.ResponseBytes = sw.bytes
	row.UpstreamRequestID = clip(rec.upstreamID, 200)
	s.observe(rec, row)
	s.endTrace(rec, &row)
	s.logRequest(&row)
	if s.opts.RequestLog != nil {
		if rec.bodies != nil { // only now: bodies never reach slog, metrics or traces
			rec.bodies.fill(&row)
		}
		if len(row.Timeline) == 1 && row.Timeline[0].Class == "" {
			// One attempt that succeeded says nothing the row does not: it
			// is not stored, which halves the log's writes in the common
			// case; readers rebuild it (logview.Timeline).
			row.Timeline = nil
		}
		s.opts.RequestLog.Log(row)
	}
}

// authenticated resolves the Bearer key into a Principal.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearer(r)
		if !ok && recordFrom(r.Context()).dialect == dialectAnthropic {
			secret, ok = apiKeyHeader(r)
		}
		var p auth.Principal
		var err error
		if !ok {
			err = auth.ErrMissingKey
		} else {
			p, err = s.opts.Keys.Lookup(secret)
		}
		if err != nil {
			s.writeError(w, r, authError(err, secret))
			return
		}
		if !p.AllowsIP(netip.Addr{}) { // a restricted key: check the caller's address
			addr, perr := netip.ParseAddr(clientIP(r))
			if perr != nil || !p.AllowsIP(addr.Unmap()) {
				s.writeError(w, r, &apiError{Status: http.StatusForbidden, Type: typeForbidden, Code: "ip_not_allowed",
					Message: "The key " + p.Masked + " may not be used from this address (" + clip(clientIP(r), 64) + "). Call from an allowed network, or ask your tollgate operator to update the key's IP allow-list."})
				return
			}
		}
		rec := recordFrom(r.Context())
		rec.row.KeyID, rec.row.KeyName, rec.row.KeyMasked = p.KeyID, p.Name, p.Masked
		if p.LogBodies && s.opts.RequestLog != nil {
			s.keepBodies(r, rec)
		}
		// The principal lives in the record, which the context already
		// carries: no second copy of the request per request.
		rec.principal = p
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the key from "Authorization: Bearer KEY".
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	key := strings.TrimSpace(h[7:])
	return key, key != ""
}

// allow answers 405 for methods other than method (HEAD is allowed with GET).
func allow(method string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", method)
		ae := &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Code: "method_not_allowed",
			Message: "Method " + r.Method + " is not allowed on " + r.URL.Path + "; use " + method + "."}
		if rec := recordFrom(r.Context()); rec != nil {
			rec.err = ae // so the request log row names the error
		}
		writeErrorTo(w, r, ae)
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// loggedIO holds the request's counting wrappers in one allocation.
type loggedIO struct {
	sw   statusWriter
	body countingBody
}

// countingBody counts the request body bytes the handler read.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// statusWriter records the status, the time of the first byte, the body
// bytes written and whether anything was written. Unwrap lets
// http.ResponseController reach the underlying writer to flush.
type statusWriter struct {
	http.ResponseWriter
	now    func() time.Time
	start  time.Time
	status int
	ttfb   time.Duration
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status = code
		if code >= 200 {
			w.wrote = true
			w.ttfb = w.now().Sub(w.start)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher for writers that look for it directly.
func (w *statusWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
