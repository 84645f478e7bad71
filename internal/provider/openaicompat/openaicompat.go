// Package openaicompat is the adapter for any upstream that speaks the
// OpenAI API (OpenAI, DeepSeek, vLLM, Ollama, Groq, ...). Requests are
// already in the upstream's format, so the adapter only adds credentials
// and headers, enforces the phase timeouts and classifies failures.
package openaicompat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/redact"
)

// Options configure an Adapter.
type Options struct {
	// Channel is the channel's name, used in errors.
	Channel string
	// BaseURL is the API root including the version, e.g.
	// "https://api.openai.com/v1". Required.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer"; empty sends none.
	APIKey redact.Secret
	// Headers are added to every request.
	Headers map[string]string
	// Client sends the requests. Required; its Transport should come from
	// provider.NewTransport, and it must not follow redirects for POSTs
	// silently (the default client's policy is fine).
	Client *http.Client
	// Timeouts bound each phase unless a request sets its own. Connect is
	// enforced by the client's transport (see provider.NewTransport).
	Timeouts provider.Timeouts
	// UserAgent is sent upstream. Default "tollgate".
	UserAgent string
	// APIStyle is how URLs and credentials are laid out: StyleOpenAI (the
	// default when empty) or StyleAzure (see azure.go).
	APIStyle string
	// APIVersion is the api-version query parameter of StyleAzure.
	// Default DefaultAzureAPIVersion.
	APIVersion string
	// Responses declares that the upstream serves POST {base}/responses
	// (OpenAI's Responses API) itself, so Responses requests are passed
	// through to it (see responses.go).
	Responses bool
}

// Adapter sends OpenAI-format requests to one OpenAI-compatible upstream.
// It is safe for concurrent use.
type Adapter struct {
	channel  string
	base     string
	auth     string
	azure    *azureStyle // nil for the OpenAI style
	headers  http.Header
	client   *http.Client
	timeouts provider.Timeouts
	// responses: the upstream serves the Responses API.
	responses bool
}

var _ provider.Adapter = (*Adapter)(nil)

// maxErrorBody caps how much of an upstream error body is read.
const maxErrorBody = 1 << 20

// New validates opts and returns an Adapter.
func New(opts Options) (*Adapter, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("channel %s: invalid base URL %q", opts.Channel, opts.BaseURL)
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
	a := &Adapter{
		channel:   opts.Channel,
		base:      strings.TrimRight(opts.BaseURL, "/"),
		headers:   h,
		client:    opts.Client,
		timeouts:  opts.Timeouts,
		responses: opts.Responses,
	}
	switch opts.APIStyle {
	case "", StyleOpenAI:
		if !opts.APIKey.IsZero() {
			a.auth = "Bearer " + opts.APIKey.Reveal()
		}
	case StyleAzure:
		a.azure = newAzureStyle(opts)
	default:
		return nil, fmt.Errorf("channel %s: unknown API style %q (%s or %s)", opts.Channel, opts.APIStyle, StyleOpenAI, StyleAzure)
	}
	return a, nil
}

// Do sends one attempt. See provider.Adapter.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	target, err := a.url(req)
	if err != nil {
		return nil, err
	}
	at := provider.NewAttempt(ctx, a.channel, req.Timeouts, a.timeouts)
	hreq, err := at.NewRequest(target, req.Body)
	if err != nil {
		return nil, err
	}
	hreq.Header = a.requestHeader(req)
	if a.azure != nil {
		a.azure.authorize(hreq.Header)
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
	if req.Stream && provider.IsEventStream(resp.Header.Get("Content-Type")) {
		return &provider.Response{
			Status:            resp.StatusCode,
			Header:            resp.Header,
			Stream:            newStream(a.channel, resp.Body, at.Cancel, at.Timeouts(), req.Endpoint == provider.EndpointResponses),
			UpstreamRequestID: upstreamID,
		}, nil
	}
	defer at.Cancel(nil)
	body, err := at.ReadBody(ctx, resp)
	if err != nil {
		return nil, err
	}
	if req.Stream {
		return nil, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseFirstToken, Channel: a.channel,
			Message: fmt.Sprintf("asked for a stream but the upstream answered with Content-Type %q", resp.Header.Get("Content-Type"))}
	}
	return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Body: body, UpstreamRequestID: upstreamID}, nil
}

// requestHeader returns the headers of one request: the adapter's fixed
// headers, then Authorization, Accept and X-Request-Id replacing any of
// the same name, as Header.Set would, with one allocation for all values.
func (a *Adapter) requestHeader(req *provider.Request) http.Header {
	n := 3
	for _, v := range a.headers {
		n += len(v)
	}
	h := make(http.Header, len(a.headers)+3)
	vals := make([]string, 0, n)
	set := func(k string, v ...string) {
		vals = append(vals, v...)
		h[k] = vals[len(vals)-len(v) : len(vals) : len(vals)]
	}
	for k, v := range a.headers {
		set(k, v...)
	}
	if a.azure == nil && a.auth != "" {
		set("Authorization", a.auth)
	}
	if req.Stream {
		set("Accept", "text/event-stream")
	} else {
		set("Accept", "application/json")
	}
	if req.RequestID != "" {
		set("X-Request-Id", req.RequestID)
	}
	return h
}
