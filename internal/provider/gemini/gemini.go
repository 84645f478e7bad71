// Package gemini is the adapter for Google's Gemini API (generativelanguage
// v1beta). It translates OpenAI chat completions to generateContent and
// streamGenerateContent (alt=sse) and OpenAI embeddings to
// batchEmbedContents, and translates the answers, streams and errors back,
// so the rest of tollgate only ever sees the OpenAI format.
//
// Each request is translated on its own: translators hold per-request
// state and are not safe for concurrent use; the Adapter is.
package gemini

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/redact"
)

// DefaultBaseURL is the Gemini API root used when Options.BaseURL is empty.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// Options configure an Adapter.
type Options struct {
	// Channel is the channel's name, used in errors.
	Channel string
	// BaseURL is the API root including the version. Default DefaultBaseURL.
	BaseURL string
	// APIKey is sent as "x-goog-api-key"; empty sends none.
	APIKey redact.Secret
	// Headers are added to every request.
	Headers map[string]string
	// Client sends the requests. Required; its Transport should come from
	// provider.NewTransport.
	Client *http.Client
	// Timeouts bound each phase unless a request sets its own. Connect is
	// enforced by the client's transport (see provider.NewTransport).
	Timeouts provider.Timeouts
	// UserAgent is sent upstream. Default "tollgate".
	UserAgent string
}

// Adapter sends OpenAI-format requests to the Gemini API, translating
// both ways. It is safe for concurrent use.
type Adapter struct {
	channel  string
	base     string
	headers  http.Header
	client   *http.Client
	timeouts provider.Timeouts
	ids      idSource
}

var _ provider.Adapter = (*Adapter)(nil)

// maxErrorBody caps how much of an upstream error body is read.
const maxErrorBody = 1 << 20

// New validates opts and returns an Adapter.
func New(opts Options) (*Adapter, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("channel %s: invalid base URL %q", opts.Channel, base)
	}
	if opts.Client == nil {
		return nil, fmt.Errorf("channel %s: no HTTP client", opts.Channel)
	}
	h := make(http.Header, len(opts.Headers)+3)
	for k, v := range opts.Headers {
		if v != "" {
			h.Set(k, v)
		}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "tollgate"
	}
	h.Set("User-Agent", ua)
	h.Set("Content-Type", "application/json")
	if !opts.APIKey.IsZero() {
		h.Set("x-goog-api-key", opts.APIKey.Reveal())
	}
	return &Adapter{
		channel:  opts.Channel,
		base:     strings.TrimRight(base, "/"),
		headers:  h,
		client:   opts.Client,
		timeouts: opts.Timeouts,
		ids:      realIDs(),
	}, nil
}

// call is one translated upstream request.
type call struct {
	url    string
	body   []byte
	stream bool
	// decode translates a non-stream 2xx body into the OpenAI answer.
	decode func(body []byte) ([]byte, error)
	// open makes the stream translator, for streams.
	open func() *translator
}

// Do sends one attempt. See provider.Adapter.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	c, err := a.translate(req)
	if err != nil {
		return nil, err
	}
	at := provider.NewAttempt(ctx, a.channel, req.Timeouts, a.timeouts)
	hreq, err := at.NewRequest(c.url, c.body)
	if err != nil {
		return nil, err
	}
	hreq.Header = a.headers.Clone()
	if c.stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	if req.RequestID != "" {
		hreq.Header.Set("X-Request-Id", req.RequestID)
	}
	resp, err := at.Send(ctx, a.client, hreq)
	if err != nil {
		return nil, err
	}
	upstreamID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer at.Cancel(nil)
		return nil, a.statusError(resp)
	}
	if c.stream {
		if !provider.IsEventStream(resp.Header.Get("Content-Type")) {
			defer at.Cancel(nil)
			_ = resp.Body.Close()
			return nil, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseFirstToken, Channel: a.channel,
				Message: fmt.Sprintf("asked for a stream but the upstream answered with Content-Type %q", resp.Header.Get("Content-Type"))}
		}
		return &provider.Response{
			Status:            resp.StatusCode,
			Header:            resp.Header,
			Stream:            newStream(a.channel, resp.Body, at.Cancel, at.Timeouts(), c.open()),
			UpstreamRequestID: upstreamID,
		}, nil
	}
	defer at.Cancel(nil)
	body, err := at.ReadBody(ctx, resp)
	if err != nil {
		return nil, err
	}
	out, err := c.decode(body)
	if err != nil {
		return nil, a.answerError(err)
	}
	return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Body: out, UpstreamRequestID: upstreamID}, nil
}

// translate turns the OpenAI request into the Gemini call.
func (a *Adapter) translate(req *provider.Request) (*call, error) {
	switch req.Endpoint {
	case provider.EndpointChat:
		t, err := translateChat(req.Body)
		if err != nil {
			return nil, a.requestError(err)
		}
		c := &call{url: a.modelURL(t.model, "generateContent"), body: t.body, stream: t.stream}
		if t.stream {
			c.url = a.modelURL(t.model, "streamGenerateContent") + "?alt=sse"
			c.open = func() *translator { return newTranslator(t.model, a.ids) }
		}
		c.decode = func(body []byte) ([]byte, error) { return translateResponse(body, t.model, a.ids) }
		return c, nil
	case provider.EndpointEmbeddings:
		t, err := translateEmbeddings(req.Body)
		if err != nil {
			return nil, a.requestError(err)
		}
		return &call{url: a.modelURL(t.model, "batchEmbedContents"), body: t.body,
			decode: func(body []byte) ([]byte, error) { return translateEmbeddingsResponse(body, t) }}, nil
	}
	return nil, &provider.Error{Kind: provider.KindStatus, Phase: provider.PhaseResponseHeader, Channel: a.channel,
		Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unsupported_endpoint",
		Message: fmt.Sprintf("the Gemini provider does not serve /v1/%s; use /v1/chat/completions", req.Endpoint)}
}

// modelURL is the URL of method on model; a leading "models/" in the
// name is accepted.
func (a *Adapter) modelURL(model, method string) string {
	model = strings.TrimPrefix(model, "models/")
	return a.base + "/models/" + url.PathEscape(model) + ":" + method
}
