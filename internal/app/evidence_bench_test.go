package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/cputime"
	"github.com/tollgate/tollgate/internal/store"
)

// benchEvidenceConfig is a gateway in front of the built-in simulator,
// which answers at once, so the benchmark measures tollgate's own work.
// %s is the SQLite file, %s turns the request log and the metrics on or
// off together.
const benchEvidenceConfig = `
database: {path: %q}
request_log: {enabled: %[2]s}
metrics: {enabled: %[2]s}
upstream:
  circuit: {consecutive_failures: 0, failure_ratio: 0}
channels:
  - name: sim
    provider: simulator
    simulator: {default: {length: 16}}
models:
  - {name: sim-chat, routes: [{channel: sim}]}
`

// BenchmarkRelayEvidenceOverhead measures what the evidence costs: the
// same mixed load (every other request a stream) through a real loopback
// server, with the request log (to a SQLite file) and the metrics off,
// then on. One op is one request; clients send concurrently, so ns/op is
// the inverse of throughput, and cpu-µs/req is the process's CPU time per
// request (clients included), the steadier figure on a shared machine.
// Compare the two with benchstat; the target is "on" within 5% of "off".
func BenchmarkRelayEvidenceOverhead(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			base, secret := benchGateway(b, mode == "on")
			const clients = 16
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}
			b.Cleanup(client.CloseIdleConnections)
			bodies := [2]string{
				`{"model":"sim-chat","messages":[{"role":"user","content":"bench"}]}`,
				`{"model":"sim-chat","messages":[{"role":"user","content":"bench"}],"stream":true}`,
			}
			jobs := make(chan int)
			var wg sync.WaitGroup
			var failed sync.Once
			for range clients {
				wg.Go(func() {
					for n := range jobs {
						if err := benchRequest(client, base, secret, bodies[n%2]); err != nil {
							failed.Do(func() { b.Error(err) })
						}
					}
				})
			}
			b.ReportAllocs()
			n := 0
			start, cpu := time.Now(), cputime.Process()
			for b.Loop() {
				jobs <- n
				n++
			}
			elapsed, cpu := time.Since(start), cputime.Process()-cpu
			close(jobs)
			wg.Wait()
			b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
			// CPU per request (client, server and writer together) is far
			// steadier than req/s on a shared machine.
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/req")
			}
		})
	}
}

// benchRequest sends one request and reads the whole answer.
func benchRequest(client *http.Client, base, secret, body string) error {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// benchGateway starts tollgate behind a loopback server with the request
// log and metrics on or off, and returns its base URL and a key's secret.
func benchGateway(tb testing.TB, evidence bool) (string, string) {
	tb.Helper()
	db := filepath.Join(tb.TempDir(), "bench.db")
	cfg, err := config.Parse(fmt.Appendf(nil, benchEvidenceConfig, db, fmt.Sprint(evidence)), tb.Name(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := app.New(tb.Context(), cfg, app.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	tb.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	secret, err := auth.NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	id, err := auth.NewKeyID()
	if err != nil {
		tb.Fatal(err)
	}
	k, err := a.Store.CreateKey(tb.Context(), store.Key{ID: id, Name: "bench", Hash: auth.Hash(secret), Last4: auth.Last4(secret)})
	if err != nil {
		tb.Fatal(err)
	}
	a.Keys.Apply(k)
	return srv.URL, secret
}
