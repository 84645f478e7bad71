package openaicompat

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
)

func TestAzureStyle(t *testing.T) {
	t.Parallel()
	type seen struct {
		path, rawPath, query string
		header               http.Header
	}
	tests := []struct {
		name       string
		version    string
		endpoint   provider.Endpoint
		model      string
		stream     bool
		wantPath   string
		wantEscape string // the escaped path, when it differs
		wantQuery  string
	}{
		{name: "chat", endpoint: provider.EndpointChat, model: "gpt4o-prod",
			wantPath: "/openai/deployments/gpt4o-prod/chat/completions", wantQuery: "api-version=2024-10-21"},
		{name: "chat stream", endpoint: provider.EndpointChat, model: "gpt4o-prod", stream: true,
			wantPath: "/openai/deployments/gpt4o-prod/chat/completions", wantQuery: "api-version=2024-10-21"},
		{name: "embeddings with a configured version", version: "2025-01-01-preview", endpoint: provider.EndpointEmbeddings, model: "embed-small",
			wantPath: "/openai/deployments/embed-small/embeddings", wantQuery: "api-version=2025-01-01-preview"},
		{name: "completions", endpoint: provider.EndpointCompletions, model: "instruct",
			wantPath: "/openai/deployments/instruct/completions", wantQuery: "api-version=2024-10-21"},
		{name: "deployment name is path-escaped", endpoint: provider.EndpointChat, model: "a/b c",
			wantPath: "/openai/deployments/a/b c/chat/completions", wantEscape: "/openai/deployments/a%2Fb%20c/chat/completions",
			wantQuery: "api-version=2024-10-21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan seen, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- seen{path: r.URL.Path, rawPath: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone()}
				if tt.stream {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, "data: {\"choices\":[]}\n\ndata: [DONE]\n\n")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":"x"}`)
			}))
			t.Cleanup(srv.Close)
			a, err := New(Options{
				Channel: "azure", BaseURL: srv.URL + "/", APIKey: "azure-secret", APIStyle: StyleAzure, APIVersion: tt.version,
				Client: &http.Client{Transport: provider.NewTransport(provider.TransportOptions{ConnectTimeout: time.Second})},
			})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"model":` + string(quoteJSON(tt.model)) + `,"input":"x","stream":` + map[bool]string{true: "true", false: "false"}[tt.stream] + `}`)
			resp, err := a.Do(context.Background(), &provider.Request{Endpoint: tt.endpoint, Body: body, Stream: tt.stream})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Stream != nil {
				_ = resp.Stream.Close()
			}
			s := <-got
			wantEscaped := tt.wantEscape
			if wantEscaped == "" {
				wantEscaped = tt.wantPath
			}
			if s.path != tt.wantPath || s.rawPath != wantEscaped || s.query != tt.wantQuery {
				t.Errorf("request to %s (escaped %s) ?%s, want %s (escaped %s) ?%s", s.path, s.rawPath, s.query, tt.wantPath, wantEscaped, tt.wantQuery)
			}
			if k := s.header.Get("api-key"); k != "azure-secret" {
				t.Errorf("api-key header %q, want the channel's key", k)
			}
			if auth := s.header.Get("Authorization"); auth != "" {
				t.Errorf("Authorization %q sent to Azure, want none", auth)
			}
		})
	}
}

func TestAzureStyleRejectsBodiesWithoutModel(t *testing.T) {
	t.Parallel()
	a, err := New(Options{Channel: "azure", BaseURL: "http://127.0.0.1:1", APIStyle: StyleAzure, Client: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Do(context.Background(), &provider.Request{Endpoint: provider.EndpointChat, Body: []byte(`{"messages":[]}`)})
	if err == nil {
		t.Fatal("a body without a model was sent")
	}
	if _, err := New(Options{Channel: "x", BaseURL: "http://h", APIStyle: "bogus", Client: http.DefaultClient}); err == nil {
		t.Error("an unknown API style was accepted")
	}
}

func quoteJSON(s string) []byte {
	b := []byte{'"'}
	b = append(b, s...)
	return append(b, '"')
}
