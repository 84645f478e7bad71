package app_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/store"
)

const translateBenchConfig = `
database: {path: ":memory:"}
request_log: {enabled: false}
metrics: {enabled: false}
channels:
  - {name: sim-openai, provider: simulator, dialect: openai}
  - {name: sim-anthropic, provider: simulator, dialect: anthropic}
  - {name: sim-gemini, provider: simulator, dialect: gemini}
models:
  - {name: pass-through, routes: [{channel: sim-openai, model: m}]}
  - {name: via-anthropic, routes: [{channel: sim-anthropic, model: m}]}
  - {name: via-gemini, routes: [{channel: sim-gemini, model: m}]}
`

// BenchmarkStreamFirstByte measures tollgate's time to the first stream
// byte (ttfb-µs) and to the whole answer for a pass-through stream and for
// streams translated from Anthropic's and Gemini's dialects, all from the
// in-process simulator, so the difference is the translation's own cost.
func BenchmarkStreamFirstByte(b *testing.B) {
	cfg, err := config.Parse([]byte(translateBenchConfig), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close(context.Background()) })
	secret, _ := auth.NewSecret()
	id, _ := auth.NewKeyID()
	k, err := a.Store.CreateKey(context.Background(), store.Key{ID: id, Name: "bench", Hash: auth.Hash(secret), Last4: auth.Last4(secret)})
	if err != nil {
		b.Fatal(err)
	}
	a.Keys.Apply(k)
	srv := httptest.NewServer(a.Handler)
	b.Cleanup(srv.Close)
	client := srv.Client()
	for _, model := range []string{"pass-through", "via-anthropic", "via-gemini"} {
		b.Run(model, func(b *testing.B) {
			body := `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hello there"}]}`
			var ttfb time.Duration
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReader(resp.Body)
				if _, err := br.ReadByte(); err != nil {
					b.Fatal(err)
				}
				ttfb += time.Since(start)
				var last string
				for {
					line, err := br.ReadString('\n')
					if strings.HasPrefix(line, "data: ") {
						last = line
					}
					if err != nil {
						break
					}
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(last, "data: [DONE]") {
					b.Fatalf("%s: status %d, last event %q", model, resp.StatusCode, last)
				}
			}
			b.ReportMetric(float64(ttfb.Microseconds())/float64(b.N), "ttfb-µs")
		})
	}
}
