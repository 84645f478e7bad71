package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/store"
)

const shutdownConfig = `
database: {path: ":memory:"}
server: {shutdown_timeout: 5s}
channels:
  - name: sim
    provider: simulator
    simulator:
      models:
        slow: {tokens_per_second: 40, length: 12}
models:
  - name: slow
    routes: [{channel: sim}]
`

// TestShutdownLetsStreamsFinish starts a stream, asks the server to stop
// (what SIGTERM does through the signal context), and checks that the
// stream still completes with [DONE], serve returns without error and new
// connections are refused.
func TestShutdownLetsStreamsFinish(t *testing.T) {
	cfg, err := config.Parse([]byte(shutdownConfig), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret := addKey(t, a)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, a, cfg, slog.New(slog.DiscardHandler)) }()

	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v1/chat/completions",
		strings.NewReader(`{"model":"slow","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("first event: %v", err)
	}

	cancel() // SIGTERM
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("stream cut during shutdown: %v", err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(rest)), "data: [DONE]") {
		t.Fatalf("stream did not finish with [DONE]:\n%s", rest)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("listener still accepts connections after shutdown")
	}
}

// addKey creates an API key directly in the store and returns its secret.
func addKey(t *testing.T, a *app.App) string {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := auth.NewKeyID()
	k, err := a.Store.CreateKey(context.Background(), store.Key{ID: id, Name: "test", Hash: auth.Hash(secret), Last4: auth.Last4(secret)})
	if err != nil {
		t.Fatal(err)
	}
	a.Keys.Apply(k)
	return secret
}
