package doctor_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/doctor"
	"github.com/tollgate/tollgate/internal/simupstream"
)

// testKey is the key the plain-server tests use; it must never be printed.
const testKey = "sk-doctor-test-SECRET-0123456789abcd"

// paced is how the healthy models answer: 12 tokens over about 60ms, so a
// stream's events are visibly spread out and a buffering proxy shows.
var paced = simupstream.Profile{Length: 12, TokensPerSecond: 200}

// plainServer is an OpenAI-compatible server that is not tollgate: the
// simulator with one model per fault, behind a bearer-key check (the
// simulator itself accepts any key).
func plainServer(t *testing.T) *httptest.Server {
	t.Helper()
	sim := simupstream.New(simupstream.Options{
		Default: paced,
		Profiles: map[string]simupstream.Profile{
			"gpt-ok":      paced,
			"gpt-429":     {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 429, RetryAfter: 2 * time.Second}},
			"gpt-429bare": {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 429}},
			"gpt-slow":    {Latency: 400 * time.Millisecond},
			"gpt-stall":   {Length: 12, Fault: simupstream.Fault{Kind: simupstream.FaultStall, After: 3, Delay: 300 * time.Millisecond}},
			"gpt-cut":     {Length: 12, Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 4}},
			"gpt-nodone":  {Length: 12, Fault: simupstream.Fault{Kind: simupstream.FaultNoDone}},
		},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+r.Header.Get("Authorization")+`","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// bufferingProxy forwards every request to upstream but reads the whole
// answer before writing any of it, as a buffering reverse proxy does.
func bufferingProxy(t *testing.T, upstream string) *httptest.Server {
	t.Helper()
	tr := &http.Transport{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.Path, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	t.Cleanup(func() { srv.Close(); tr.CloseIdleConnections() })
	return srv
}

// fastOptions are options with short limits so faults show quickly.
func fastOptions(base, key, model string) doctor.Options {
	o := doctor.Default()
	o.BaseURL, o.APIKey, o.Model = base, key, model
	o.Timeout = 2 * time.Second
	o.ConnectTimeout = time.Second
	o.FirstTokenTimeout = time.Second
	o.IdleTimeout = 150 * time.Millisecond
	return o
}

// want is an expectation about one check's result.
type want struct {
	status  doctor.Status
	summary string // substring of the summary
	next    string // substring of the next step
}

// runAndCheck runs the doctor, checks the expectations and that the key
// appears in neither the text report nor the evidence bundle, and returns
// the report and the bundle as text.
func runAndCheck(t *testing.T, opts doctor.Options, passed bool, wants map[string]want) (*doctor.Report, string) {
	t.Helper()
	rep, err := doctor.Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "json": js.String()} {
		if strings.Contains(out, opts.APIKey) {
			t.Errorf("the API key appears in the %s output:\n%s", name, out)
		}
	}
	if !strings.Contains(js.String(), doctor.MaskKey(opts.APIKey)) {
		t.Errorf("the bundle lacks the masked key %s", doctor.MaskKey(opts.APIKey))
	}
	var b doctor.Bundle
	if err := json.Unmarshal(js.Bytes(), &b); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	if rep.Passed() != passed || b.Passed != passed {
		t.Errorf("passed = %v, want %v\n%s", rep.Passed(), passed, text.String())
	}
	got := make(map[string]doctor.Result)
	for _, r := range rep.Results {
		got[r.Name] = r
	}
	for name, w := range wants {
		r, ok := got[name]
		if !ok {
			t.Errorf("no %s check", name)
			continue
		}
		if r.Status != w.status || !strings.Contains(r.Summary, w.summary) || !strings.Contains(r.Next, w.next) {
			t.Errorf("%s = [%s] %q (next %q), want [%s] containing %q (next containing %q)\nreport:\n%s",
				name, r.Status, r.Summary, r.Next, w.status, w.summary, w.next, text.String())
		}
	}
	t.Logf("report:\n%s", text.String())
	if t.Failed() {
		t.Logf("bundle:\n%s", js.String())
	}
	return rep, js.String()
}

func TestDoctorPlainServer(t *testing.T) {
	t.Parallel()
	srv := plainServer(t)
	proxy := bufferingProxy(t, srv.URL)
	tests := []struct {
		name   string
		base   string
		key    string
		model  string
		tune   func(*doctor.Options)
		passed bool
		wants  map[string]want
	}{
		{name: "healthy", model: "gpt-ok", passed: true, wants: map[string]want{
			"dns":        {status: doctor.StatusOK, summary: "IP address"},
			"tcp":        {status: doctor.StatusOK, summary: "TCP connect"},
			"tls":        {status: doctor.StatusSkipped, summary: "plain http"},
			"models":     {status: doctor.StatusOK, summary: "gpt-ok is among"},
			"chat":       {status: doctor.StatusOK, summary: "200 in"},
			"stream":     {status: doctor.StatusOK, summary: "[DONE]"},
			"rate-limit": {status: doctor.StatusOK, summary: "not rate limited"},
			"timeouts":   {status: doctor.StatusOK, summary: "no timeouts"},
		}},
		{name: "wrong key", model: "gpt-ok", key: "sk-wrong-key-0000000000zzzz", wants: map[string]want{
			"models": {status: doctor.StatusFail, summary: "the key is wrong or revoked: Incorrect API key", next: "--api-key"},
			"chat":   {status: doctor.StatusSkipped, summary: "models failed"},
			"stream": {status: doctor.StatusSkipped, summary: "models failed"},
		}},
		{name: "unknown model", model: "gpt-okk", wants: map[string]want{
			"models": {status: doctor.StatusFail, summary: "closest: gpt-ok", next: "did you mean gpt-ok"},
			"chat":   {status: doctor.StatusSkipped, summary: "models failed"},
		}},
		{name: "429 with Retry-After", model: "gpt-429", wants: map[string]want{
			"chat":       {status: doctor.StatusFail, summary: "429 rate_limit_exceeded", next: "rate-limit check"},
			"stream":     {status: doctor.StatusSkipped, summary: "rate limited"},
			"rate-limit": {status: doctor.StatusFail, summary: "Retry-After 2", next: "wait 2s before retrying"},
		}},
		{name: "429 without Retry-After", model: "gpt-429bare", wants: map[string]want{
			"rate-limit": {status: doctor.StatusFail, summary: "no Retry-After", next: "gives no Retry-After"},
		}},
		{name: "slow first byte", model: "gpt-slow", tune: func(o *doctor.Options) {
			o.Timeout, o.FirstTokenTimeout = 250*time.Millisecond, 100*time.Millisecond
		}, wants: map[string]want{
			"chat":     {status: doctor.StatusFail, summary: "during the response headers phase", next: "timeouts check"},
			"stream":   {status: doctor.StatusFail, summary: "timed out in the response headers phase"},
			"timeouts": {status: doctor.StatusFail, summary: "likely cause: upstream queueing", next: "retry later"},
		}},
		{name: "stall mid-stream", model: "gpt-stall", wants: map[string]want{
			"chat":     {status: doctor.StatusOK},
			"stream":   {status: doctor.StatusFail, summary: "timed out in the idle phase"},
			"timeouts": {status: doctor.StatusFail, summary: "stalled mid-answer: after 4 events", next: ": ping"},
		}},
		{name: "cut stream", model: "gpt-cut", wants: map[string]want{
			"chat":   {status: doctor.StatusFail, summary: "body broke off"},
			"stream": {status: doctor.StatusFail, summary: "stream cut after 5 events without [DONE]", next: "closed the connection mid-answer"},
		}},
		{name: "missing [DONE]", model: "gpt-nodone", wants: map[string]want{
			"chat":   {status: doctor.StatusOK},
			"stream": {status: doctor.StatusFail, summary: "without the [DONE] marker", next: "data: [DONE]"},
		}},
		{name: "buffering proxy", model: "gpt-ok", base: proxy.URL, passed: true, wants: map[string]want{
			"chat":   {status: doctor.StatusOK},
			"stream": {status: doctor.StatusWarn, summary: "buffered: all", next: "X-Accel-Buffering: no"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, key := srv.URL+"/v1", testKey
			if tc.base != "" {
				base = tc.base + "/v1"
			}
			if tc.key != "" {
				key = tc.key
			}
			opts := fastOptions(base, key, tc.model)
			if tc.tune != nil {
				tc.tune(&opts)
			}
			runAndCheck(t, opts, tc.passed, tc.wants)
		})
	}
}

func TestDoctorNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	srv := plainServer(t)
	opts := fastOptions(srv.URL+"/v1", testKey, "gpt-ok")
	opts.Header = http.Header{"X-Tenant-Token": {"tenant-secret-value-42"}}
	_, js := runAndCheck(t, opts, true, nil)
	if strings.Contains(js, "tenant-secret-value-42") {
		t.Errorf("a header value appears in the bundle:\n%s", js)
	}
	if !strings.Contains(js, "X-Tenant-Token") {
		t.Errorf("the bundle does not name the extra header")
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	good := fastOptions("http://localhost:8080/v1", testKey, "m")
	tests := []struct {
		name string
		edit func(*doctor.Options)
		want string
	}{
		{"valid", func(*doctor.Options) {}, ""},
		{"no base URL", func(o *doctor.Options) { o.BaseURL = "" }, "base URL is required"},
		{"bad scheme", func(o *doctor.Options) { o.BaseURL = "ftp://x" }, "scheme"},
		{"no key", func(o *doctor.Options) { o.APIKey = "" }, "API key"},
		{"no model", func(o *doctor.Options) { o.Model = "" }, "model"},
		{"zero timeout", func(o *doctor.Options) { o.Timeout = 0 }, "timeout must be positive"},
		{"bad proxy", func(o *doctor.Options) { o.Proxy = "::" }, "proxy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			err := o.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestMaskKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"sk-abcdefghijklmnop": "sk-...mnop",
		"tg-1234567890abcd":   "tg-...abcd",
		"plainkeyvalue9876":   "...9876",
		"short":               "...",
	} {
		if got := doctor.MaskKey(key); got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", key, got, want)
		}
	}
}
