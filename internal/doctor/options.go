package doctor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultPrompt is the chat prompt when Options.Prompt is empty: short to
// process, yet long enough an answer to show how tokens arrive.
const DefaultPrompt = "Count from 1 to 20, separated by spaces."

// Options configure a doctor run. Build them with Default and check them
// with Validate; the zero value is not usable.
type Options struct {
	// BaseURL is the endpoint's OpenAI base URL, e.g.
	// "https://api.openai.com/v1" or "http://localhost:8080/v1".
	BaseURL string
	// APIKey is sent as a bearer token and never printed; the report shows
	// it masked.
	APIKey string
	// Model is the model to try.
	Model string
	// Prompt is the user message sent; empty means DefaultPrompt.
	Prompt string
	// Header holds extra request headers (their values are treated as
	// secrets and never printed).
	Header http.Header
	// Proxy is the URL of an HTTP proxy; empty uses the environment
	// (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) as most clients do.
	Proxy string
	// Timeout bounds each request as a whole.
	Timeout time.Duration
	// ConnectTimeout bounds name resolution, TCP connect and the TLS
	// handshake (and the CONNECT through a proxy).
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds, for a stream, the time from sending the
	// request to the first content token (response headers included).
	FirstTokenTimeout time.Duration
	// IdleTimeout bounds the silence between two stream reads once content
	// flows; 0 means FirstTokenTimeout.
	IdleTimeout time.Duration
	// TLSConfig overrides the TLS client configuration (tests use it to
	// trust a test certificate); nil uses the system roots.
	TLSConfig *tls.Config
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Default returns Options with the default timeouts and prompt.
func Default() Options {
	return Options{
		Prompt:            DefaultPrompt,
		Timeout:           30 * time.Second,
		ConnectTimeout:    5 * time.Second,
		FirstTokenTimeout: 20 * time.Second,
	}
}

// Validate reports the first problem with o.
func (o Options) Validate() error {
	if o.BaseURL == "" {
		return errors.New("a base URL is required")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil {
		return fmt.Errorf("base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("base URL %q: the scheme must be http or https", redactURL(u))
	}
	if u.Host == "" {
		return fmt.Errorf("base URL %q has no host", redactURL(u))
	}
	if o.APIKey == "" {
		return errors.New("an API key is required")
	}
	if o.Model == "" {
		return errors.New("a model is required")
	}
	if o.Proxy != "" {
		p, err := url.Parse(o.Proxy)
		if err != nil || p.Host == "" {
			return errors.New("the proxy must be a URL such as http://proxy:3128")
		}
	}
	for name, d := range map[string]time.Duration{
		"timeout": o.Timeout, "connect timeout": o.ConnectTimeout, "first token timeout": o.FirstTokenTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("the %s must be positive", name)
		}
	}
	if o.IdleTimeout < 0 {
		return errors.New("the idle timeout must not be negative")
	}
	return nil
}

func (o Options) idleTimeout() time.Duration {
	if o.IdleTimeout > 0 {
		return o.IdleTimeout
	}
	return o.FirstTokenTimeout
}

func (o Options) prompt() string {
	if o.Prompt != "" {
		return o.Prompt
	}
	return DefaultPrompt
}

// redactURL returns u as text without its password.
func redactURL(u *url.URL) string {
	return u.Redacted()
}

// endpoint joins the base URL and an API path such as "/models".
func endpoint(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}
