package openaicompat

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/simupstream"
)

func newAdapter(t *testing.T, baseURL string, to provider.Timeouts) *Adapter {
	t.Helper()
	a, err := New(Options{
		Channel: "test", BaseURL: baseURL, APIKey: "sk-upstream-secret",
		Headers:  map[string]string{"X-Extra": "1", "X-Empty": ""},
		Client:   &http.Client{Transport: provider.NewTransport(provider.TransportOptions{ConnectTimeout: time.Second})},
		Timeouts: to,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func chatBody(model string, stream bool) []byte {
	s := "false"
	if stream {
		s = "true"
	}
	return []byte(`{"model":"` + model + `","stream":` + s + `,"messages":[{"role":"user","content":"hi"}]}`)
}

func TestDoSendsCredentialsAndHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		if r.URL.Path != "/v1/chat/completions" {
			t.Errorf("path %q", r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "up-123")
		_, _ = io.WriteString(w, `{"id":"x"}`)
	}))
	defer srv.Close()
	a := newAdapter(t, srv.URL+"/v1/", provider.Timeouts{})
	resp, err := a.Do(context.Background(), &provider.Request{Endpoint: provider.EndpointChat, Body: chatBody("m", false), RequestID: "req_1"})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != `{"id":"x"}` || resp.UpstreamRequestID != "up-123" {
		t.Fatalf("resp = %+v", resp)
	}
	for k, want := range map[string]string{"Authorization": "Bearer sk-upstream-secret", "X-Extra": "1", "Content-Type": "application/json", "X-Request-Id": "req_1"} {
		if got.Get(k) != want {
			t.Errorf("header %s = %q, want %q", k, got.Get(k), want)
		}
	}
	if _, ok := got["X-Empty"]; ok {
		t.Error("empty extra header was sent")
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantType  string
		wantCode  string
		wantMsg   string
		wantRetry time.Duration
	}{
		{"openai shaped 429", 429, map[string]string{"Retry-After": "3"}, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, "requests", "rate_limit_exceeded", "Rate limit reached", 3 * time.Second},
		{"retry-after-ms wins", 429, map[string]string{"Retry-After": "3", "retry-after-ms": "1500"}, `{}`, "", "", "Too Many Requests", 1500 * time.Millisecond},
		{"array wrapped", 400, nil, `[{"error":{"code":400,"message":"bad thing","status":"INVALID_ARGUMENT"}}]`, "", "400", "bad thing", 0},
		{"plain text", 502, nil, "upstream exploded", "", "", "upstream exploded", 0},
		{"html page", 503, nil, "<html>" + strings.Repeat("x", 2000) + "</html>", "", "", "<html>", 0},
		{"empty body", 500, nil, "", "", "", "Internal Server Error", 0},
		{"string error", 401, nil, `{"error":"invalid key"}`, "", "", "invalid key", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := newAdapter(t, srv.URL+"/v1", provider.Timeouts{}).Do(context.Background(), &provider.Request{Endpoint: provider.EndpointChat, Body: chatBody("m", false)})
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *provider.Error", err)
			}
			if pe.Kind != provider.KindStatus || pe.Status != tt.status || pe.Type != tt.wantType || pe.Code != tt.wantCode || pe.RetryAfter != tt.wantRetry {
				t.Fatalf("got %+v", pe)
			}
			if !strings.HasPrefix(pe.Message, tt.wantMsg) || len(pe.Message) > 520 {
				t.Fatalf("message %q, want prefix %q (bounded)", pe.Message, tt.wantMsg)
			}
		})
	}
}

func TestFailuresNameTheirPhase(t *testing.T) {
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"silent":  {Fault: simupstream.Fault{Kind: simupstream.FaultNoResponse}},
		"stall":   {Fault: simupstream.Fault{Kind: simupstream.FaultStall, After: 2}},
		"slow1st": {Fault: simupstream.Fault{Kind: simupstream.FaultSlowFirstToken, Delay: 5 * time.Second}},
		"cut":     {Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 2}},
		"reset":   {Fault: simupstream.Fault{Kind: simupstream.FaultReset}},
		"nodone":  {Fault: simupstream.Fault{Kind: simupstream.FaultNoDone}},
	}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	to := provider.Timeouts{ResponseHeader: 150 * time.Millisecond, FirstToken: 150 * time.Millisecond, Idle: 150 * time.Millisecond}
	tests := []struct {
		name      string
		base      string
		model     string
		stream    bool
		wantKind  provider.Kind
		wantPhase provider.Phase
	}{
		{"no response", srv.URL, "silent", false, provider.KindTimeout, provider.PhaseResponseHeader},
		{"connection refused", closedURL, "any", false, provider.KindConnect, provider.PhaseConnect},
		{"reset before headers", srv.URL, "reset", false, provider.KindNetwork, provider.PhaseResponseHeader},
		{"slow first token", srv.URL, "slow1st", true, provider.KindTimeout, provider.PhaseFirstToken},
		{"stall mid-stream", srv.URL, "stall", true, provider.KindTimeout, provider.PhaseIdle},
		{"cut mid-stream", srv.URL, "cut", true, provider.KindNetwork, provider.PhaseIdle},
		{"missing done", srv.URL, "nodone", true, provider.KindTruncated, provider.PhaseIdle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAdapter(t, tt.base+"/v1", to)
			err := drain(a, tt.model, tt.stream)
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *provider.Error", err)
			}
			if pe.Kind != tt.wantKind || pe.Phase != tt.wantPhase || pe.Channel != "test" {
				t.Fatalf("got kind %s phase %s (%v), want %s %s", pe.Kind, pe.Phase, pe, tt.wantKind, tt.wantPhase)
			}
			if strings.Contains(pe.Error(), "sk-upstream-secret") {
				t.Fatalf("error leaks the upstream key: %v", pe)
			}
		})
	}
}

// drain performs one request and reads a stream to its end.
func drain(a *Adapter, model string, stream bool) error {
	ctx := context.Background()
	resp, err := a.Do(ctx, &provider.Request{Endpoint: provider.EndpointChat, Body: chatBody(model, stream), Stream: stream})
	if err != nil {
		return err
	}
	if resp.Stream == nil {
		return nil
	}
	defer resp.Stream.Close()
	for {
		if _, err := resp.Stream.Next(ctx); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func TestStreamErrorEventAndWrongContentType(t *testing.T) {
	tests := []struct {
		name     string
		ct       string
		body     string
		wantKind provider.Kind
	}{
		{"error event", "text/event-stream", "event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n", provider.KindStreamError},
		{"json instead of stream", "application/json", `{"id":"x"}`, provider.KindMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ct)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			err := drain(newAdapter(t, srv.URL+"/v1", provider.Timeouts{}), "m", true)
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != tt.wantKind {
				t.Fatalf("err = %v, want kind %s", err, tt.wantKind)
			}
		})
	}
}

func TestClientCancelIsNotAnUpstreamFailure(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		close(started)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := newAdapter(t, srv.URL+"/v1", provider.Timeouts{}).Do(ctx, &provider.Request{Endpoint: provider.EndpointChat, Body: chatBody("m", false)})
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindCanceled {
		t.Fatalf("err = %v, want KindCanceled", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := &http.Client{}
	for _, o := range []Options{{BaseURL: "ftp://x", Client: c}, {BaseURL: "http://", Client: c}, {BaseURL: "http://x/v1"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestConnectErrorIsMarked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, stdlib := range []bool{false, true} {
		tr := provider.NewTransport(provider.TransportOptions{StdlibOnly: stdlib})
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader("{}"))
		_, err = tr.RoundTrip(req)
		var ce *provider.ConnectError
		if !errors.As(err, &ce) || ce.Timeout() {
			t.Errorf("stdlib only %v: dial error %v is not a non-timeout ConnectError", stdlib, err)
		}
	}
}
