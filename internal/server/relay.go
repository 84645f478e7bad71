package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// endpoint describes one relayed operation.
type endpoint struct {
	op provider.Endpoint
	// required is the top-level field the body must carry besides model.
	required string
	// streams reports whether the operation may stream.
	streams bool
}

var (
	endpointChat        = endpoint{op: provider.EndpointChat, required: "messages", streams: true}
	endpointCompletions = endpoint{op: provider.EndpointCompletions, required: "prompt", streams: true}
	endpointEmbeddings  = endpoint{op: provider.EndpointEmbeddings, required: "input"}
)

// errTotalTimeout is the cancel cause when a request's total deadline passes.
var errTotalTimeout = errors.New("total timeout")

// relayRequest is what the handler learned from the client's body.
type relayRequest struct {
	model       *router.Model
	target      router.Target
	stream      bool
	wantUsage   bool // the client asked for the usage chunk
	upstreamReq provider.Request
}

// relay handles one OpenAI-format request: parse just enough of the body,
// route it, patch the fields that change and forward it.
func (s *Server) relay(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		rr, err := s.prepare(w, r, ep)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := r.Context()
		if s.opts.TotalTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, s.opts.TotalTimeout, errTotalTimeout)
			defer cancel()
		}
		resp, err := rr.target.Adapter.Do(ctx, &rr.upstreamReq)
		if err != nil {
			s.failUpstream(w, r, ctx, err)
			return
		}
		rec.upstream = resp.UpstreamRequestID
		if resp.Stream != nil {
			s.relayStream(ctx, w, r, rr, resp.Stream)
			return
		}
		s.relayBody(w, r, resp)
	})
}

// prepare reads and checks the body, resolves the model and builds the
// upstream request.
func (s *Server) prepare(w http.ResponseWriter, r *http.Request, ep endpoint) (*relayRequest, error) {
	rec := recordFrom(r.Context())
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	obj, err := jsonpeek.Parse(body)
	if err != nil {
		return nil, badJSON(err)
	}
	model, ok, err := obj.String("model")
	if err != nil || !ok || model == "" {
		return nil, invalidField("model", "you must provide a model parameter: a string naming a model from GET /v1/models")
	}
	rec.row.ModelRequested = clip(model, 200)
	raw, ok := obj.Raw(ep.required)
	if !ok || isNull(raw) {
		return nil, invalidField(ep.required, fmt.Sprintf("you must provide a %s parameter", ep.required))
	}
	if ep.op == provider.EndpointChat && (raw[0] != '[' || isEmptyArray(raw)) {
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
	rr := &relayRequest{model: m, target: m.Pick(), stream: stream}
	rec.row.Channel = rr.target.Channel
	edits := make([]jsonpeek.Edit, 0, 2)
	if rr.target.UpstreamModel != model {
		edits = append(edits, jsonpeek.Edit{Key: "model", Value: jsonpeek.Quote(rr.target.UpstreamModel)})
	}
	if stream {
		edit, wantUsage, err := includeUsage(obj)
		if err != nil {
			return nil, err
		}
		rr.wantUsage = wantUsage
		if edit != nil {
			edits = append(edits, *edit)
		}
	}
	if len(edits) > 0 {
		body = obj.Patch(edits...)
	}
	rr.upstreamReq = provider.Request{Endpoint: ep.op, Body: body, Stream: stream, RequestID: rec.row.RequestID}
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
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), buf)
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

// readAll is io.ReadAll into a caller-sized buffer.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// relayBody forwards a non-stream answer unchanged, capturing its usage.
func (s *Server) relayBody(w http.ResponseWriter, r *http.Request, resp *provider.Response) {
	rec := recordFrom(r.Context())
	obj, err := jsonpeek.Parse(resp.Body)
	if err != nil {
		s.writeError(w, r, &apiError{Status: http.StatusBadGateway, Type: typeServerError, Code: "upstream_malformed",
			Message: fmt.Sprintf("The upstream of channel %s answered with invalid JSON. Retry; if it persists report the request id.", rec.row.Channel), Cause: err})
		return
	}
	captureUsage(rec, obj)
	if served, ok, _ := obj.String("model"); ok {
		rec.row.ModelServed = clip(served, 200)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Body)
}

// captureUsage copies the usage object of a body or chunk into the record.
func captureUsage(rec *record, obj jsonpeek.Object) bool {
	raw, ok := obj.Raw("usage")
	if !ok || isNull(raw) {
		return false
	}
	var u openai.Usage
	if json.Unmarshal(raw, &u) != nil {
		return false
	}
	rec.row.PromptTokens, rec.row.CompletionTokens, rec.row.TotalTokens = u.PromptTokens, u.CompletionTokens, u.TotalTokens
	return true
}

// failUpstream answers a failed attempt, telling the total deadline and
// a client that left apart from upstream failures.
func (s *Server) failUpstream(w http.ResponseWriter, r *http.Request, ctx context.Context, err error) {
	if errors.Is(context.Cause(ctx), errTotalTimeout) {
		// The adapter saw its ctx end and calls that a cancel; it is the
		// total deadline, not a client that left.
		s.writeError(w, r, totalTimeout(s.opts.TotalTimeout, recordFrom(r.Context()).row.Channel, err))
		return
	}
	var pe *provider.Error
	if errors.As(err, &pe) && pe.Kind == provider.KindCanceled {
		rec := recordFrom(r.Context())
		rec.err = toAPIError(err)
		rec.statusOverride = statusClientClosed
		return
	}
	s.writeError(w, r, err)
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
