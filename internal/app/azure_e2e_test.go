package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/tollgate/tollgate/internal/simupstream"
)

// TestAzureChannel wires an "openai" channel with api_style azure: every
// endpoint reaches the deployment named by the route's upstream model,
// with the api-version query and the api-key header, and the answer comes
// back as from any OpenAI-compatible upstream.
func TestAzureChannel(t *testing.T) {
	t.Parallel()
	sim := simupstream.New(simupstream.Options{})
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s?%s api-key=%s auth=%q", r.URL.Path, r.URL.RawQuery, r.Header.Get("api-key"), r.Header.Get("Authorization")))
		mu.Unlock()
		rest, ok := strings.CutPrefix(r.URL.Path, "/openai/deployments/prod-4o/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		r.URL.Path = "/v1/" + rest // the simulator serves the OpenAI paths
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g := newGateway(t, resilienceBase+fmt.Sprintf(`
channels:
  - {name: az, provider: openai, api_style: azure, api_version: 2024-06-01, base_url: %s, api_key: azure-key}
models:
  - {name: gpt-4o, routes: [{channel: az, model: prod-4o}]}
`, srv.URL))
	client := g.client()
	resp, err := client.Chat.Completions.New(t.Context(), chatParams("gpt-4o", "hello azure"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sim.Answer("prod-4o", "hello azure", 0); resp.Choices[0].Message.Content != want {
		t.Errorf("answer %q, want %q", resp.Choices[0].Message.Content, want)
	}
	if _, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "gpt-4o",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("vector me")}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`/openai/deployments/prod-4o/chat/completions?api-version=2024-06-01 api-key=azure-key auth=""`,
		`/openai/deployments/prod-4o/embeddings?api-version=2024-06-01 api-key=azure-key auth=""`,
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("upstream saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
