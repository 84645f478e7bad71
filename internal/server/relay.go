package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/readall"
	"github.com/tollgate/tollgate/internal/router"
)

// endpoint describes one relayed operation.
type endpoint struct {
	op provider.Endpoint
	// name is the endpoint's name in retry policies.
	name string
	// required is the top-level field the body must carry besides model.
	required string
	// streams reports whether the operation may stream.
	streams bool
}

var (
	endpointChat        = endpoint{op: provider.EndpointChat, name: "chat", required: "messages", streams: true}
	endpointCompletions = endpoint{op: provider.EndpointCompletions, name: "completions", required: "prompt", streams: true}
	endpointEmbeddings  = endpoint{op: provider.EndpointEmbeddings, name: "embeddings", required: "input"}
	// endpointMessages is a Messages API request passed through as it is
	// (messages_passthrough.go); it retries by the chat policy.
	endpointMessages = endpoint{op: provider.EndpointMessages, name: "chat", required: "messages", streams: true}
	// endpointResponses is a Responses API request passed through as it is
	// (responses_passthrough.go); it retries by the chat policy. The
	// upstream judges its fields: stateful requests need no input.
	endpointResponses = endpoint{op: provider.EndpointResponses, name: "chat", streams: true}
)

// errTotalTimeout is the cancel cause when a request's total deadline passes.
var errTotalTimeout = errors.New("total timeout")

// relayRequest is what the handler learned from the client's body.
type relayRequest struct {
	ep        endpoint
	model     *router.Model
	requested string // the model name the client sent
	body      []byte
	obj       jsonpeek.Object
	stream    bool
	wantUsage bool           // the client asked for the usage chunk
	usageEdit *jsonpeek.Edit // makes the upstream send usage, when the client did not ask
	plan      *router.Plan
	deadline  time.Duration // the model's total timeout
}

// relay handles one OpenAI-format request: parse just enough of the body,
// route it, and forward it through the attempts its plan allows.
func (s *Server) relay(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := s.readBody(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.relayBody(w, r, ep, body)
	})
}

// relayBody relays one OpenAI-format request body; the client's dialect
// (record.dialect) shapes the answer.
func (s *Server) relayBody(w http.ResponseWriter, r *http.Request, ep endpoint, body []byte) {
	rr, err := s.prepare(r, ep, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.relayPrepared(w, r, rr)
}

// relayPrepared relays a request prepare accepted.
func (s *Server) relayPrepared(w http.ResponseWriter, r *http.Request, rr *relayRequest) {
	recordFrom(r.Context()).model = rr.model.Name
	s.opts.Metrics.InFlight(rr.stream, 1)
	defer s.opts.Metrics.InFlight(rr.stream, -1)
	w, finish, done := s.beginIdempotent(w, r, rr)
	if done {
		return
	}
	defer finish()
	adm, err := s.admit(r, rr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	adm.RateHeaders(w.Header())
	defer s.settle(r, rr, adm)
	ctx := r.Context()
	var deadline time.Time
	if rr.deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, rr.deadline, errTotalTimeout)
		defer cancel()
		deadline, _ = ctx.Deadline()
	}
	rr.plan = s.exec.NewPlan(rr.model, rr.ep.name, deadline)
	defer s.recordAttempts(r, rr)
	if rr.stream {
		s.relayStream(ctx, w, r, rr)
		return
	}
	s.relayOnce(ctx, w, r, rr)
}

// requestFor builds the upstream request for one attempt: the client's
// body with only the fields that change for this target patched.
func (rr *relayRequest) requestFor(a router.Attempt, requestID string) *provider.Request {
	body := rr.body
	var edits [2]jsonpeek.Edit
	n := 0
	if a.Target.UpstreamModel != rr.requested {
		edits[n] = jsonpeek.Edit{Key: "model", Value: jsonpeek.Quote(a.Target.UpstreamModel)}
		n++
	}
	if rr.usageEdit != nil {
		edits[n] = *rr.usageEdit
		n++
	}
	if n > 0 {
		body = rr.obj.Patch(edits[:n]...)
	}
	return &provider.Request{Endpoint: rr.ep.op, Body: body, Stream: rr.stream, RequestID: requestID, Timeouts: a.Target.Timeouts}
}

// passthrough reports whether the request is a Messages or Responses API
// request forwarded as it is, to channels that speak that API.
func (rr *relayRequest) passthrough() bool {
	return rr.ep.op == provider.EndpointMessages || rr.ep.op == provider.EndpointResponses
}

// responsesPassthrough reports whether the request is a Responses API
// request forwarded as it is (responses_passthrough.go).
func (rr *relayRequest) responsesPassthrough() bool { return rr.ep.op == provider.EndpointResponses }

// send performs one attempt through the target's adapter.
func (rr *relayRequest) send(ctx context.Context, a router.Attempt, req *provider.Request) (*provider.Response, error) {
	if !rr.passthrough() {
		return a.Target.Adapter.Do(ctx, req)
	}
	if rr.responsesPassthrough() {
		ra, ok := a.Target.Adapter.(provider.ResponsesAdapter)
		if !ok || !ra.ServesResponses() { // ruled out when the request was routed
			return nil, fmt.Errorf("channel %s cannot pass a Responses API request through", a.Target.Channel)
		}
		return ra.DoResponses(ctx, req)
	}
	ma, ok := a.Target.Adapter.(provider.MessagesAdapter)
	if !ok { // ruled out when the request was routed; kept as a clear error
		return nil, fmt.Errorf("channel %s cannot pass a Messages API request through", a.Target.Channel)
	}
	return ma.DoMessages(ctx, req)
}

// prepare checks the body, resolves the model and builds the upstream
// request.
func (s *Server) prepare(r *http.Request, ep endpoint, body []byte) (*relayRequest, error) {
	rec := recordFrom(r.Context())
	obj, err := jsonpeek.Parse(body)
	if err != nil {
		return nil, badJSON(err)
	}
	model, ok, err := obj.String("model")
	if err != nil || !ok || model == "" {
		return nil, invalidField("model", "you must provide a model parameter: a string naming a model from GET /v1/models")
	}
	rec.row.ModelRequested = clip(model, 200)
	var raw []byte
	if ep.required != "" {
		raw, ok = obj.Raw(ep.required)
		if !ok || isNull(raw) {
			return nil, invalidField(ep.required, fmt.Sprintf("you must provide a %s parameter", ep.required))
		}
	}
	if (ep.op == provider.EndpointChat || ep.op == provider.EndpointMessages) && (raw[0] != '[' || isEmptyArray(raw)) {
		return nil, invalidField("messages", "messages must be a non-empty array of chat messages")
	}
	stream, _, err := obj.Bool("stream")
	if err != nil {
		return nil, invalidField("stream", "stream must be true or false")
	}
	if stream && !ep.streams {
		return nil, invalidField("stream", "this endpoint does not stream; remove the stream parameter")
	}
	rec.row.Stream = stream
	m, ok := s.opts.Routes.Resolve(model)
	if !ok {
		return nil, modelNotFound(model)
	}
	p := principalFrom(r.Context())
	if !p.Allows(m.Name) && !p.Allows(model) {
		return nil, modelForbidden(model, p.Masked)
	}
	rr := &relayRequest{ep: ep, model: m, requested: model, body: body, obj: obj, stream: stream, deadline: m.Total}
	if stream && ep.op != provider.EndpointMessages && ep.op != provider.EndpointResponses {
		edit, wantUsage, err := includeUsage(obj)
		if err != nil {
			return nil, err
		}
		rr.wantUsage, rr.usageEdit = wantUsage, edit
	}
	return rr, nil
}

// includeUsage returns the edit that makes the upstream send the usage
// chunk, and whether the client asked for it itself.
func includeUsage(obj jsonpeek.Object) (*jsonpeek.Edit, bool, error) {
	raw, ok := obj.Raw("stream_options")
	if !ok || isNull(raw) {
		return &jsonpeek.Edit{Key: "stream_options", Value: []byte(`{"include_usage":true}`)}, false, nil
	}
	opts, err := jsonpeek.Parse(raw)
	if err != nil {
		return nil, false, invalidField("stream_options", "stream_options must be an object such as {\"include_usage\": true}")
	}
	want, _, err := opts.Bool("include_usage")
	if err != nil {
		return nil, false, invalidField("stream_options.include_usage", "include_usage must be true or false")
	}
	if want {
		return nil, true, nil
	}
	patched := opts.Patch(jsonpeek.Edit{Key: "include_usage", Value: []byte("true")})
	return &jsonpeek.Edit{Key: "stream_options", Value: patched}, false, nil
}

// readBody reads the whole body within the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	size := 4096
	if r.ContentLength > 0 {
		size = int(r.ContentLength)
	}
	buf := make([]byte, 0, size+1)
	body, err := readall.Into(http.MaxBytesReader(w, r.Body, limit), buf)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "body_read_error",
			Message: "tollgate could not read the request body; the connection may have broken. Retry.", Cause: err}
	}
	return body, nil
}

// captureUsage copies the usage object of a body or chunk into the record.
func captureUsage(rec *record, obj jsonpeek.Object) bool {
	raw, ok := obj.Raw("usage")
	if !ok || isNull(raw) {
		return false
	}
	u, ok := openai.PeekUsage(raw)
	if !ok {
		return false
	}
	rec.row.PromptTokens, rec.row.CompletionTokens, rec.row.TotalTokens = u.PromptTokens, u.CompletionTokens, u.TotalTokens
	rec.row.CachedTokens = u.CachedTokens
	return true
}

func isNull(raw []byte) bool { return string(raw) == "null" }

func isEmptyArray(raw []byte) bool {
	for _, c := range raw[1:] {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case ']':
			return true
		}
		return false
	}
	return false
}
