// Package anthropic is the adapter for Anthropic's Messages API. It takes
// OpenAI chat completions requests, translates them to POST /v1/messages
// (PROTOCOLS.md §4.6), and translates answers, stream events and errors
// back, so clients see one OpenAI-shaped API whatever the upstream.
//
// The translation is split by direction: request.go (OpenAI → Anthropic),
// response.go (non-stream answers), translate_stream.go (stream events,
// one at a time, never buffered), errors.go (statuses and error bodies).
// The adapter enforces the same phase timeouts as openaicompat.
package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/redact"
)

// Defaults of Options.
const (
	DefaultBaseURL   = "https://api.anthropic.com"
	DefaultVersion   = "2023-06-01"
	DefaultMaxTokens = 4096
)

// maxErrorBody caps how much of an upstream error body is read.
const maxErrorBody = 1 << 20

// Options configure an Adapter.
type Options struct {
	// Channel is the channel's name, used in errors.
	Channel string
	// BaseURL is the API root without the version, e.g.
	// "https://api.anthropic.com" (the default when empty).
	BaseURL string
	// APIKey is sent as "x-api-key"; empty sends none.
	APIKey redact.Secret
	// Version is sent as "anthropic-version". Default DefaultVersion.
	Version string
	// DefaultMaxTokens is the max_tokens sent when the client set no
	// limit (Anthropic requires one). Default DefaultMaxTokens.
	DefaultMaxTokens int
	// Headers are added to every request (e.g. "anthropic-beta").
	Headers map[string]string
	// Client sends the requests. Required; its Transport should come from
	// provider.NewTransport.
	Client *http.Client
	// Timeouts bound each phase unless a request sets its own. Connect is
	// enforced by the client's transport.
	Timeouts provider.Timeouts
	// UserAgent is sent upstream. Default "tollgate".
	UserAgent string
	// Now returns the current time for "created" fields; nil means time.Now.
	Now func() time.Time
}

// Adapter sends OpenAI-format chat requests to one Anthropic upstream. It
// is safe for concurrent use; the translators it makes are per request.
type Adapter struct {
	channel   string
	url       string
	headers   http.Header
	client    *http.Client
	timeouts  provider.Timeouts
	maxTokens int
	now       func() time.Time
}

var _ provider.Adapter = (*Adapter)(nil)

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
	h := make(http.Header, len(opts.Headers)+5)
	for k, v := range opts.Headers {
		if v != "" {
			h.Set(k, v)
		}
	}
	h.Set("User-Agent", cmpOr(opts.UserAgent, "tollgate"))
	h.Set("Content-Type", "application/json")
	h.Set("Anthropic-Version", cmpOr(opts.Version, DefaultVersion))
	if !opts.APIKey.IsZero() {
		h.Set("X-Api-Key", opts.APIKey.Reveal())
	}
	a := &Adapter{
		channel:   opts.Channel,
		url:       strings.TrimRight(base, "/") + "/v1/messages",
		headers:   h,
		client:    opts.Client,
		timeouts:  opts.Timeouts,
		maxTokens: opts.DefaultMaxTokens,
		now:       opts.Now,
	}
	if a.maxTokens <= 0 {
		a.maxTokens = DefaultMaxTokens
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Do translates and sends one attempt. See provider.Adapter. Only chat
// completions are served; a request that cannot be translated fails with
// a 400 *provider.Error wrapping a *RequestError, before any I/O.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Endpoint != provider.EndpointChat {
		return nil, requestError(a.channel, &RequestError{Param: "", Code: codeUnsupportedValue,
			Message: fmt.Sprintf("Channel %s (Anthropic) serves only chat completions, not %s.", a.channel, req.Endpoint)})
	}
	body, err := TranslateRequest(req.Body, RequestOptions{DefaultMaxTokens: a.maxTokens, Stream: req.Stream})
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			return nil, requestError(a.channel, re)
		}
		return nil, fmt.Errorf("translating the request: %w", err)
	}
	return a.send(ctx, req, body, false)
}

// send posts body to /v1/messages and returns the answer: translated to
// the OpenAI format, or as the upstream sent it when raw is set.
func (a *Adapter) send(ctx context.Context, req *provider.Request, body []byte, raw bool) (*provider.Response, error) {
	at := provider.NewAttempt(ctx, a.channel, req.Timeouts, a.timeouts)
	hreq, err := at.NewRequest(a.url, body)
	if err != nil {
		return nil, err
	}
	hreq.Header = a.headers.Clone()
	hreq.Header.Set("Accept", "application/json")
	if req.Stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	if req.RequestID != "" {
		hreq.Header.Set("X-Request-Id", req.RequestID)
	}
	resp, err := at.Send(ctx, a.client, hreq)
	if err != nil {
		return nil, err
	}
	return a.answer(ctx, at, req, resp, raw)
}

// answer turns a received response into the provider.Response.
func (a *Adapter) answer(ctx context.Context, at *provider.Attempt, req *provider.Request, resp *http.Response, raw bool) (*provider.Response, error) {
	upstreamID := resp.Header.Get("Request-Id")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer at.Cancel(nil)
		return nil, a.statusError(resp)
	}
	if req.Stream && provider.IsEventStream(resp.Header.Get("Content-Type")) {
		st := newStream(a.channel, resp.Body, at.Cancel, at.Timeouts())
		st.raw = raw
		st.tr.Created = a.now().Unix()
		return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Stream: st, UpstreamRequestID: upstreamID}, nil
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
	if raw {
		return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Body: body, UpstreamRequestID: upstreamID}, nil
	}
	out, err := TranslateResponse(body, ResponseOptions{Created: a.now().Unix()})
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseBody, Channel: a.channel,
			Message: "the upstream's answer is not a valid Messages API response", Err: err}
	}
	return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Body: out, UpstreamRequestID: upstreamID}, nil
}
