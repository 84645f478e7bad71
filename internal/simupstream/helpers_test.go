package simupstream

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// conn is one way of reaching a Simulator in tests.
type conn struct {
	name   string
	client *http.Client
	base   string // URL prefix, with /v1
}

// conns returns a client over real TCP (httptest.NewServer) and one over
// Transport, both serving sim.
func conns(t *testing.T, sim http.Handler) []conn {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return []conn{
		{name: "tcp", client: &http.Client{Transport: tr}, base: srv.URL + "/v1"},
		{name: "transport", client: &http.Client{Transport: Transport(sim)}, base: "http://sim.invalid/v1"},
	}
}

// do sends a request with a JSON body (method POST unless body is "").
func (c conn) do(ctx context.Context, path, body string) (*http.Response, error) {
	method, rd := http.MethodGet, io.Reader(nil)
	if body != "" {
		method, rd = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.client.Do(req)
}

// mustDo is do that fails the test on a transport error and returns the
// whole body.
func (c conn) mustDo(t *testing.T, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.do(t.Context(), path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", c.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", c.name, path, err)
	}
	return resp, b
}

// readEvents reads SSE data payloads until EOF or an error, which it
// returns (nil for a clean EOF).
func readEvents(r io.Reader) ([]string, error) {
	br := bufio.NewReader(r)
	var events []string
	for {
		line, err := br.ReadString('\n')
		if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok && err == nil {
			events = append(events, data)
		}
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, err
		}
	}
}

// decodeJSON decodes b into a T or fails the test.
func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// keysOf returns the top-level keys of a JSON object.
func keysOf(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	return decodeJSON[map[string]json.RawMessage](t, b)
}

// chatBody builds a chat request body.
func chatBody(model, prompt string, extra string) string {
	b, _ := json.Marshal(prompt)
	s := `{"model":"` + model + `","messages":[{"role":"system","content":"be brief"},{"role":"user","content":` + string(b) + `}]`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}
