package doctor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/redact"
)

// Env is what the checks of one run share: the options, the HTTP client
// and the evidence gathered so far. It is used by one goroutine at a time.
type Env struct {
	opts   Options
	base   *url.URL
	client *client
	now    func() time.Time

	// Network is what the network checks found.
	Network Network
	// Models is the model list, when the endpoint served one.
	Models []string
	// Exchanges are the HTTP exchanges made, in order.
	Exchanges []*Exchange
}

// Network is the evidence of the name resolution, TCP and TLS checks.
type Network struct {
	// Host is the host:port dialled: the endpoint's, or the proxy's when
	// one is used.
	Host string `json:"host"`
	// ViaProxy is the proxy (without credentials) requests go through.
	ViaProxy  string   `json:"via_proxy,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
	DNSMs     float64  `json:"dns_ms"`
	ConnectMs float64  `json:"connect_ms"`
	TLSMs     float64  `json:"tls_ms,omitempty"`
	TLS       string   `json:"tls,omitempty"` // version and ALPN
}

// Exchange is the non-sensitive record of one HTTP exchange.
type Exchange struct {
	Check      string `json:"check"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Model      string `json:"model,omitempty"`
	Stream     bool   `json:"stream"`
	StartedAt  string `json:"started_at"`
	Status     int    `json:"status,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	Attempts   string `json:"attempts,omitempty"` // tollgate's X-Tollgate-Attempts
	Via        string `json:"via,omitempty"`
	Server     string `json:"server,omitempty"`
	ContentTyp string `json:"content_type,omitempty"`
	Compressed bool   `json:"compressed,omitempty"`

	ErrorType    string `json:"error_type,omitempty"`
	ErrorCode    string `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	ResetAt      string `json:"reset_at,omitempty"`
	Error        string `json:"error,omitempty"` // transport or protocol failure
	TimeoutPhase Phase  `json:"timeout_phase,omitempty"`

	RetryAfter   string            `json:"retry_after,omitempty"`
	RetryAfterMs string            `json:"retry_after_ms,omitempty"`
	ShouldRetry  string            `json:"should_retry,omitempty"`
	RateLimit    map[string]string `json:"ratelimit,omitempty"`

	RequestBytes  int    `json:"request_bytes"`
	ResponseBytes int64  `json:"response_bytes"`
	Usage         *Usage `json:"usage,omitempty"`

	Timings TimingsMs `json:"timings_ms"`
	// Flow holds what the stream check saw; nil for other exchanges.
	Flow *StreamStats `json:"stream_stats,omitempty"`

	timeout *TimeoutError
	isTG    bool // the answer came from tollgate
}

// Usage is the token usage an answer reported.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// TimingsMs are Timings in milliseconds, for the evidence bundle.
type TimingsMs struct {
	DNS        float64 `json:"dns,omitempty"`
	Connect    float64 `json:"connect,omitempty"`
	TLS        float64 `json:"tls,omitempty"`
	Reused     bool    `json:"reused_connection,omitempty"`
	Headers    float64 `json:"headers,omitempty"`
	FirstToken float64 `json:"first_token,omitempty"`
	MaxGap     float64 `json:"max_gap,omitempty"`
	Total      float64 `json:"total"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func timingsMs(t Timings) TimingsMs {
	return TimingsMs{DNS: ms(t.DNS), Connect: ms(t.Connect), TLS: ms(t.TLS), Reused: t.Reused,
		Headers: ms(t.Headers), FirstToken: ms(t.FirstToken), Total: ms(t.Total)}
}

// record fills the response-header evidence of x from resp.
func (x *Exchange) record(resp *http.Response) {
	h := resp.Header
	x.Status = resp.StatusCode
	x.RequestID = firstHeader(h, "X-Request-Id", "Request-Id", "X-Tollgate-Request-Id", "Cf-Ray")
	x.Attempts = h.Get("X-Tollgate-Attempts")
	x.Via = h.Get("Via")
	x.Server = h.Get("Server")
	x.ContentTyp = h.Get("Content-Type")
	x.Compressed = resp.Uncompressed || h.Get("Content-Encoding") != ""
	x.RetryAfter = h.Get("Retry-After")
	x.RetryAfterMs = h.Get("Retry-After-Ms")
	x.ShouldRetry = h.Get("X-Should-Retry")
	for k, vs := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-ratelimit-") && len(vs) > 0 {
			if x.RateLimit == nil {
				x.RateLimit = make(map[string]string)
			}
			x.RateLimit[strings.ToLower(k)] = vs[0]
		}
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Tollgate-") {
			x.isTG = true
		}
	}
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// apiError is the OpenAI error envelope, with tollgate's resetAt.
type apiError struct {
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
		ResetAt string `json:"resetAt"`
	} `json:"error"`
}

// recordError parses an error body into x; a body that is not an OpenAI
// error is kept as (clipped) text, since proxies answer with HTML pages.
func (x *Exchange) recordError(body []byte) {
	var e apiError
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		x.ErrorType, x.ErrorMessage, x.ResetAt = e.Error.Type, e.Error.Message, e.Error.ResetAt
		switch c := e.Error.Code.(type) {
		case string:
			x.ErrorCode = c
		case float64:
			x.ErrorCode = strconv.FormatFloat(c, 'f', -1, 64)
		}
		if x.ResetAt != "" {
			x.isTG = true
		}
		return
	}
	x.ErrorMessage = "non-JSON body: " + clip(strings.Join(strings.Fields(string(body)), " "), 200)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// errorText is the best one-line description of what went wrong in x.
func (x *Exchange) errorText() string {
	switch {
	case x.ErrorMessage != "":
		return x.ErrorMessage
	case x.Error != "":
		return x.Error
	}
	return ""
}

// Bundle is the evidence a user can paste into a support ticket. It holds
// no secrets: the key is masked and extra header values are left out.
type Bundle struct {
	Tool      string      `json:"tool"`
	Time      string      `json:"time"`
	BaseURL   string      `json:"base_url"`
	Key       string      `json:"key"`
	Model     string      `json:"model"`
	Headers   []string    `json:"extra_headers,omitempty"` // names only
	Proxy     string      `json:"proxy,omitempty"`
	Tollgate  bool        `json:"tollgate"` // the endpoint looks like tollgate
	Passed    bool        `json:"passed"`
	Checks    []Result    `json:"checks"`
	Network   Network     `json:"network"`
	Models    int         `json:"models_listed"`
	Exchanges []*Exchange `json:"exchanges"`
}

// MaskKey shows a key as its prefix and last four characters, e.g.
// "sk-...abcd"; short keys are fully hidden.
func MaskKey(key string) string {
	prefix := ""
	if i := strings.IndexByte(key, '-'); i > 0 && i <= 4 {
		prefix = key[:i+1]
	}
	return redact.Mask(prefix, key)
}

// secrets lists the values that must never appear in output.
func (o Options) secrets() []string {
	out := []string{o.APIKey}
	for _, vs := range o.Header {
		out = append(out, vs...)
	}
	for _, raw := range []string{o.BaseURL, o.Proxy} {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				out = append(out, p)
			}
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return len(s) < 4 })
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// scrub replaces every secret in b: the key by its mask, others by the
// redaction placeholder.
func (o Options) scrub(b []byte) []byte {
	s := string(b)
	for _, sec := range o.secrets() {
		repl := redact.Placeholder
		if sec == o.APIKey {
			repl = MaskKey(sec)
		}
		s = strings.ReplaceAll(s, sec, repl)
	}
	return []byte(s)
}
