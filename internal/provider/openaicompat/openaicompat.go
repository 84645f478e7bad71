// Package openaicompat is the adapter for any upstream that speaks the
// OpenAI API (OpenAI, DeepSeek, vLLM, Ollama, Groq, ...). Requests are
// already in the upstream's format, so the adapter only adds credentials
// and headers, enforces the phase timeouts and classifies failures.
package openaicompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

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

// errHeaderTimeout is the cancel cause when the response-header phase runs out.
var errHeaderTimeout = errors.New("response header timeout")

// Do sends one attempt. See provider.Adapter.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	to := req.Timeouts.Merge(a.timeouts)
	if req.Timeouts.Connect > 0 {
		ctx = provider.WithConnectTimeout(ctx, req.Timeouts.Connect)
	}
	target, err := a.url(req)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancelCause(ctx)
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, target, bytes.NewReader(req.Body))
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	hreq.Header = a.headers.Clone()
	switch {
	case a.azure != nil:
		a.azure.authorize(hreq.Header)
	case a.auth != "":
		hreq.Header.Set("Authorization", a.auth)
	}
	if req.Stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	if req.RequestID != "" {
		hreq.Header.Set("X-Request-Id", req.RequestID)
	}
	start := time.Now()
	var timer *time.Timer
	if d := to.ResponseHeader; d > 0 {
		timer = time.AfterFunc(d, func() { cancel(errHeaderTimeout) })
	}
	resp, err := a.client.Do(hreq)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		perr := a.classify(ctx, actx, err, start, to)
		cancel(nil)
		return nil, perr
	}
	upstreamID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel(nil)
		return nil, a.statusError(resp)
	}
	if req.Stream && isEventStream(resp.Header.Get("Content-Type")) {
		return &provider.Response{
			Status:            resp.StatusCode,
			Header:            resp.Header,
			Stream:            newStream(a.channel, resp.Body, cancel, to, req.Endpoint == provider.EndpointResponses),
			UpstreamRequestID: upstreamID,
		}, nil
	}
	defer cancel(nil)
	body, err := a.readBody(ctx, actx, cancel, resp.Body, to.Idle)
	if err != nil {
		return nil, err
	}
	if req.Stream {
		return nil, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseFirstToken, Channel: a.channel,
			Message: fmt.Sprintf("asked for a stream but the upstream answered with Content-Type %q", resp.Header.Get("Content-Type"))}
	}
	return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Body: body, UpstreamRequestID: upstreamID}, nil
}

// readBody reads a non-stream body within the idle bound.
func (a *Adapter) readBody(ctx, actx context.Context, cancel context.CancelCauseFunc, body io.ReadCloser, idle time.Duration) ([]byte, error) {
	defer body.Close()
	var timer *time.Timer
	if d := idle; d > 0 {
		timer = time.AfterFunc(d, func() { cancel(errIdleTimeout) })
		defer timer.Stop()
	}
	start := time.Now()
	data, err := io.ReadAll(body)
	if err == nil {
		return data, nil
	}
	if errors.Is(context.Cause(actx), errIdleTimeout) {
		return nil, &provider.Error{Kind: provider.KindTimeout, Phase: provider.PhaseBody, Channel: a.channel,
			Limit: idle, Elapsed: time.Since(start), Err: err}
	}
	if ctx.Err() != nil {
		return nil, canceled(a.channel, provider.PhaseBody, ctx)
	}
	return nil, &provider.Error{Kind: provider.KindNetwork, Phase: provider.PhaseBody, Channel: a.channel,
		Message: "connection failed while reading the answer", Err: err}
}

func (a *Adapter) classify(ctx, actx context.Context, err error, start time.Time, to provider.Timeouts) *provider.Error {
	if errors.Is(context.Cause(actx), errHeaderTimeout) {
		return &provider.Error{Kind: provider.KindTimeout, Phase: provider.PhaseResponseHeader, Channel: a.channel,
			Limit: to.ResponseHeader, Elapsed: time.Since(start)}
	}
	if ctx.Err() != nil {
		return canceled(a.channel, provider.PhaseResponseHeader, ctx)
	}
	var ce *provider.ConnectError
	if errors.As(err, &ce) {
		kind := provider.KindConnect
		if ce.Timeout() {
			kind = provider.KindTimeout
		}
		return &provider.Error{Kind: kind, Phase: provider.PhaseConnect, Channel: a.channel,
			Message: "could not connect to the upstream", Limit: to.Connect, Elapsed: time.Since(start), Err: ce.Err}
	}
	return &provider.Error{Kind: provider.KindNetwork, Phase: provider.PhaseResponseHeader, Channel: a.channel,
		Message: "connection failed before the upstream answered", Err: err}
}

func canceled(channel string, phase provider.Phase, ctx context.Context) *provider.Error {
	return &provider.Error{Kind: provider.KindCanceled, Phase: phase, Channel: channel, Err: context.Cause(ctx)}
}

func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}
