package doctor_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/doctor"
	"github.com/tollgate/tollgate/internal/store"
)

// gatewayConfig is a tollgate routing to a paced simulator channel, with
// one model whose upstream rate limits.
const gatewayConfig = `
database: {path: ":memory:"}
upstream:
  retry: {max_attempts: 1}
  circuit: {consecutive_failures: 0, failure_ratio: 0}
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {length: 12, tokens_per_second: 200}
      models:
        sim-429: {fault: {kind: status, status: 429, retry_after: 2s}}
models:
  - {name: sim-chat, routes: [{channel: sim}]}
  - {name: sim-429,  routes: [{channel: sim}]}
`

// gateway starts a real tollgate and returns its base URL and the app.
func gateway(t *testing.T) (string, *app.App) {
	t.Helper()
	cfg, err := config.Parse([]byte(gatewayConfig), t.Name(), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{Version: "test"})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("closing the app: %v", err)
		}
	})
	return srv.URL + "/v1", a
}

// newKey stores a key with limits and returns its secret.
func newKey(t *testing.T, a *app.App, limits store.Limits) string {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.Store.CreateKey(t.Context(), store.Key{ID: id, Name: "doctor-" + id, Hash: auth.Hash(secret), Last4: auth.Last4(secret), Limits: limits})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	a.Keys.Apply(k)
	return secret
}

func TestDoctorTollgate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		model  string
		key    func(t *testing.T, a *app.App) string
		passed bool
		wants  map[string]want
	}{
		{name: "healthy", model: "sim-chat", passed: true, wants: map[string]want{
			"models":     {status: doctor.StatusOK, summary: "sim-chat is among"},
			"chat":       {status: doctor.StatusOK, summary: "200 in"},
			"stream":     {status: doctor.StatusOK, summary: "[DONE]"},
			"rate-limit": {status: doctor.StatusOK},
			"timeouts":   {status: doctor.StatusOK},
		}},
		{name: "wrong key", model: "sim-chat",
			key: func(*testing.T, *app.App) string { return "tg-this-key-does-not-exist-0000" },
			wants: map[string]want{
				"models": {status: doctor.StatusFail, summary: "the key is wrong or revoked", next: "--api-key"},
				"chat":   {status: doctor.StatusSkipped, summary: "models failed"},
			}},
		{name: "unknown model", model: "sim-chta", wants: map[string]want{
			"models": {status: doctor.StatusFail, summary: "closest: sim-chat", next: "did you mean sim-chat"},
		}},
		{name: "provider 429 through tollgate", model: "sim-429", wants: map[string]want{
			"chat":       {status: doctor.StatusFail, summary: "429"},
			"rate-limit": {status: doctor.StatusFail, summary: "the upstream provider's limit, passed on by tollgate", next: "wait 2s before retrying"},
		}},
		{name: "tollgate's own limit", model: "sim-chat",
			key: func(t *testing.T, a *app.App) string { return newKey(t, a, store.Limits{RPM: 1}) },
			wants: map[string]want{
				"chat":       {status: doctor.StatusOK},
				"stream":     {status: doctor.StatusFail, summary: "429"},
				"rate-limit": {status: doctor.StatusFail, summary: "tollgate's own limit on your key", next: "tollgate keys update"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, a := gateway(t)
			key := newKey(t, a, store.Limits{})
			if tc.key != nil {
				key = tc.key(t, a)
			}
			rep, _ := runAndCheck(t, fastOptions(base, key, tc.model), tc.passed, tc.wants)
			if tc.passed && !rep.Bundle.Tollgate {
				t.Errorf("the bundle does not recognise tollgate")
			}
		})
	}
}
