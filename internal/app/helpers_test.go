package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/simupstream"
	"github.com/tollgate/tollgate/internal/store"
)

// testConfig is the gateway most tests run: a simulator channel "sim" with
// one model per fault, a simulator channel "strict" with 100ms response
// header and idle timeouts, and an OpenAI channel "dead" whose base URL is
// a closed port. sim-chat is served upstream as sim-chat-v1, so the model
// requested and the model served differ. %s is the dead channel's URL.
const testConfig = `
database: {path: ":memory:"}
server: {max_body_bytes: 4KiB}
request_log: {flush_interval: 10ms}
# These tests pin how each failure is reported, so tollgate makes one
# attempt and never opens a circuit; the resilience tests cover retries.
upstream:
  retry: {max_attempts: 1}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {length: 12}
      models:
        sim-reset:     {fault: {kind: reset}}
        sim-500:       {fault: {kind: status, status: 500}}
        sim-503:       {fault: {kind: status, status: 503, retry_after: 3s}}
        sim-429:       {fault: {kind: status, status: 429, retry_after: 2s}}
        sim-429s:      {fault: {kind: status, status: 429, retry_after: 2s}}
        sim-cut:       {fault: {kind: cut, after: 4}}
        sim-malformed: {fault: {kind: malformed_chunk, after: 3}}
        sim-no-done:   {fault: {kind: no_done}}
  - name: strict
    provider: simulator
    timeouts: {response_header: 100ms, idle: 100ms}
    simulator:
      models:
        sim-hang:  {fault: {kind: no_response}}
        sim-stall: {fault: {kind: stall, after: 3}}
  - name: dead
    provider: openai
    base_url: %s
models:
  - name: sim-chat
    aliases: [sim]
    routes: [{channel: sim, model: sim-chat-v1}]
  - name: sim-embed
    routes: [{channel: sim}]
  - {name: sim-reset,     routes: [{channel: sim}]}
  - {name: sim-500,       routes: [{channel: sim}]}
  - {name: sim-503,       routes: [{channel: sim}]}
  - {name: sim-429,       routes: [{channel: sim}]}
  - {name: sim-429s,      routes: [{channel: sim}]}
  - {name: sim-cut,       routes: [{channel: sim}]}
  - {name: sim-malformed, routes: [{channel: sim}]}
  - {name: sim-no-done,   routes: [{channel: sim}]}
  - {name: sim-hang,      routes: [{channel: strict}]}
  - {name: sim-stall,     routes: [{channel: strict}]}
  - {name: sim-dead,      routes: [{channel: dead}]}
`

// resilienceBase starts every configuration of the resilience tests: an
// in-memory database and a request log that flushes quickly. Each test
// adds its own upstream settings, channels and models.
const resilienceBase = `
database: {path: ":memory:"}
request_log: {flush_interval: 10ms}
`

// retryBase is resilienceBase with the retry policy most resilience tests
// share: three attempts with a short backoff. It ends inside the upstream
// block without a newline, so a test may go on with more upstream settings
// ("\n  timeouts: ...") or with its channels ("\nchannels: ...").
const retryBase = resilienceBase + `
upstream:
  retry: {max_attempts: 3, backoff_initial: 10ms, backoff_max: 50ms}`

// upstreamChat is the upstream's name for sim-chat.
const upstreamChat = "sim-chat-v1"

// gateway is a running tollgate behind a real HTTP server.
type gateway struct {
	app *app.App
	srv *httptest.Server
	// key is the secret of a key allowed every model.
	key string
}

// newGateway starts tollgate on the YAML configuration cfg with a fresh
// in-memory database and one unrestricted key. Cleanup stops the server
// and closes the app.
func newGateway(t *testing.T, cfg string) *gateway {
	t.Helper()
	c, err := config.Parse([]byte(cfg), t.Name(), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(t.Context(), c, app.Options{Version: "test"})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	g := &gateway{app: a, srv: httptest.NewServer(a.Handler)}
	t.Cleanup(func() {
		g.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("closing the app: %v", err)
		}
	})
	g.key = g.newKey(t, store.Key{})
	return g
}

// newTestGateway starts tollgate on testConfig.
func newTestGateway(t *testing.T) *gateway {
	t.Helper()
	return newGateway(t, fmt.Sprintf(testConfig, closedURL(t)))
}

// closedURL returns a base URL on a local port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/v1"
}

// sim returns the simulator behind channel name.
func (g *gateway) sim(t *testing.T, name string) *simupstream.Simulator {
	t.Helper()
	s, ok := g.app.Simulators[name]
	if !ok {
		t.Fatalf("no simulator channel %q", name)
	}
	return s
}

// newKey stores a key shaped like k (ID, name, hash and last4 are filled
// in), loads it into the key cache and returns its secret.
func (g *gateway) newKey(t *testing.T, k store.Key) string {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if k.ID, err = auth.NewKeyID(); err != nil {
		t.Fatal(err)
	}
	if k.Name == "" {
		k.Name = "test-" + k.ID
	}
	k.Hash, k.Last4 = auth.Hash(secret), auth.Last4(secret)
	stored, err := g.app.Store.CreateKey(t.Context(), k)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	g.app.Keys.Apply(stored)
	return secret
}

// client returns an SDK client for the gateway with the unrestricted key
// and no retries, so error tests see the first answer.
func (g *gateway) client(opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(g.srv.URL + "/v1"),
		option.WithAPIKey(g.key),
		option.WithHTTPClient(g.srv.Client()),
		option.WithMaxRetries(0),
	}
	return openai.NewClient(append(base, opts...)...)
}

// do sends a raw request to the gateway with the unrestricted key and
// returns the response and its whole body.
func (g *gateway) do(t *testing.T, method, path, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, b
}

// doChunked POSTs body without a Content-Length (chunked encoding).
func (g *gateway) doChunked(t *testing.T, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, g.srv.URL+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the body: %v", path, err)
	}
	return resp, b
}

// streamEvents sends a raw streaming request and returns the data of
// every SSE event, in order, [DONE] included.
func (g *gateway) streamEvents(t *testing.T, path, body string) (*http.Response, []string) {
	t.Helper()
	resp, b := g.do(t, http.MethodPost, path, body, nil)
	var events []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, data)
		}
	}
	return resp, events
}

// requestLogs stops the HTTP server (waiting for every handler to
// finish), flushes the request log and returns its rows, newest first.
// The gateway serves no more requests afterwards.
func (g *gateway) requestLogs(t *testing.T) []store.RequestLog {
	t.Helper()
	g.srv.Close()
	if err := g.app.RequestLog().Close(t.Context()); err != nil {
		t.Fatalf("flushing the request log: %v", err)
	}
	rows, err := g.app.Store.ListRequestLogs(t.Context(), store.LogFilter{Limit: store.MaxLogLimit})
	if err != nil {
		t.Fatalf("ListRequestLogs: %v", err)
	}
	return rows
}

// rowByID returns the single log row of request id.
func rowByID(t *testing.T, rows []store.RequestLog, id string) store.RequestLog {
	t.Helper()
	var found []store.RequestLog
	for _, r := range rows {
		if r.RequestID == id {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("request %s has %d log rows, want 1", id, len(found))
	}
	return found[0]
}

// chatParams builds a one-message chat request.
func chatParams(model, prompt string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}
}

// chatBody builds a raw chat request body.
func chatBody(model, prompt, extra string) string {
	p, _ := json.Marshal(prompt)
	s := `{"model":"` + model + `","messages":[{"role":"user","content":` + string(p) + `}]`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// wantError checks that err is the SDK's *openai.Error with the given
// status, type and code (code "" means null), that the body is exactly the
// OpenAI envelope, and that the response carries an x-request-id the
// message quotes. It returns the error for further checks.
func wantError(t *testing.T, err error, status int, typ, code string) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v (%T), want *openai.Error", err, err)
	}
	if apiErr.StatusCode != status || apiErr.Type != typ || apiErr.Code != code {
		t.Errorf("error = %d type %q code %q, want %d type %q code %q (message %q)",
			apiErr.StatusCode, apiErr.Type, apiErr.Code, status, typ, code, apiErr.Message)
	}
	body, rerr := io.ReadAll(apiErr.Response.Body)
	if rerr != nil {
		t.Fatalf("reading the error body: %v", rerr)
	}
	checkEnvelope(t, apiErr.Response, body)
	return apiErr
}

// checkEnvelope checks an error answer: JSON content type, a body that is
// exactly {"error":{"message","type","param","code"}} with string message
// and type, and an x-request-id header that the message quotes.
func checkEnvelope(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var env map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || len(env) != 1 || env["error"] == nil {
		t.Fatalf("error body %s is not {\"error\":{...}} (%v)", body, err)
	}
	inner := env["error"]
	keys := make([]string, 0, len(inner))
	for k := range inner {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"code", "message", "param", "type"}) {
		t.Errorf("error object keys = %v, want code, message, param, type", keys)
	}
	var msg, typ string
	if json.Unmarshal(inner["message"], &msg) != nil || json.Unmarshal(inner["type"], &typ) != nil || msg == "" || typ == "" {
		t.Errorf("message %s and type %s must be non-empty strings", inner["message"], inner["type"])
	}
	for _, k := range []string{"param", "code"} {
		var v *string
		if err := json.Unmarshal(inner[k], &v); err != nil {
			t.Errorf("%s = %s, want a string or null", k, inner[k])
		}
	}
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("error response has no X-Request-Id")
	}
	if !strings.Contains(msg, id) {
		t.Errorf("message %q does not quote the request id %s", msg, id)
	}
}

// passthroughUpstreams starts the two HTTP upstreams of the passthrough
// tests: a recorder over a simulator, and a server that answers pattern
// (such as "POST /v1/messages") with the fixed body, or with the fixed
// stream when the request asks for one. It returns the recorder and both
// base URLs; cleanup closes the servers.
func passthroughUpstreams(t *testing.T, pattern, body, stream string) (rc *recorder, recURL, cannedURL string) {
	t.Helper()
	rc = &recorder{sim: simupstream.New(simupstream.Options{Default: simupstream.Profile{Length: 12}})}
	recSrv := httptest.NewServer(rc)
	t.Cleanup(recSrv.Close)
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Stream bool }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte(stream))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	canned := httptest.NewServer(mux)
	t.Cleanup(canned.Close)
	return rc, recSrv.URL, canned.URL
}

// cannedRow is what the request log must hold for a passthrough answer
// from a canned upstream: its token counts, finish reason and the model
// the upstream served.
type cannedRow struct {
	prompt, cached, completion, total int64
	finish, served                    string
}

// checkCannedRows checks the log rows of the canned passthrough requests
// ids (keyed by whether each streamed): a charged single attempt on the
// canned channel, with the upstream's usage as reported, not estimated.
func checkCannedRows(t *testing.T, rows []store.RequestLog, ids map[bool]string, want cannedRow) {
	t.Helper()
	for stream, id := range ids {
		row := rowByID(t, rows, id)
		if row.Status != http.StatusOK || row.Channel != "canned" || row.Attempts != 1 || row.Truncated || row.UsageEstimated {
			t.Errorf("stream=%v: row status %d, channel %q, attempts %d, truncated %v, estimated %v", stream, row.Status, row.Channel, row.Attempts, row.Truncated, row.UsageEstimated)
		}
		if row.PromptTokens != want.prompt || row.CachedTokens != want.cached || row.CompletionTokens != want.completion || row.TotalTokens != want.total {
			t.Errorf("stream=%v: tokens prompt %d cached %d completion %d total %d, want %d %d %d %d",
				stream, row.PromptTokens, row.CachedTokens, row.CompletionTokens, row.TotalTokens, want.prompt, want.cached, want.completion, want.total)
		}
		if !row.Charged || row.CostMicros <= 0 {
			t.Errorf("stream=%v: charged %v, cost %d; want the answer charged", stream, row.Charged, row.CostMicros)
		}
		if row.FinishReason != want.finish || row.ModelServed != want.served {
			t.Errorf("stream=%v: finish %q, model served %q", stream, row.FinishReason, row.ModelServed)
		}
	}
}

// checkTruncatedRows checks the log rows of the broken passthrough streams
// ids (keyed by model): each a truncated single attempt, not charged.
func checkTruncatedRows(t *testing.T, rows []store.RequestLog, ids map[string]string) {
	t.Helper()
	for model, id := range ids {
		if row := rowByID(t, rows, id); !row.Truncated || row.Attempts != 1 || row.Charged {
			t.Errorf("%s: row truncated %v, attempts %d, charged %v; want a truncated single attempt, not charged", model, row.Truncated, row.Attempts, row.Charged)
		}
	}
}
