package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/servicetest"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/postgres"
)

// instanceEnv names the configuration file of a tollgate instance run by
// the test binary itself (see TestMain).
const instanceEnv = "TOLLGATE_TEST_INSTANCE_CONFIG"

// runInstance serves tollgate on the configuration at path, on a free
// local port that it prints as "listening ADDR", until SIGTERM or until
// its standard input closes (the test that started it is gone).
func runInstance(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := app.New(ctx, cfg, app.Options{Version: "test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := a.Close(sctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startInstance runs the test binary as a tollgate instance on cfg and
// returns its base URL. Cleanup stops it: closing its standard input asks
// it to exit, and it is killed if it has not within 5 seconds.
func startInstance(t *testing.T, cfg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), instanceEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("instance did not exit within 5s of its stdin closing; killed. stderr:\n%s", stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
		_ = cmd.Wait() // after stdout is drained, as Wait closes it
		close(exited)
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-exited:
		t.Fatalf("instance exited before listening:\n%s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("instance not listening after 10s:\n%s", stderr.String())
	}
	return ""
}

// pgSchema creates a fresh schema on the test PostgreSQL server, dropped
// when the test ends, and returns a DSN whose connections use it.
func pgSchema(t *testing.T) string {
	t.Helper()
	base := servicetest.PostgresURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "mi_" + hex.EncodeToString(b)
	run := func(sql string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatalf("connecting to PostgreSQL: %v", err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	run("CREATE SCHEMA " + schema)
	t.Cleanup(func() { run("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+schema)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// multiConfig is one of several instances sharing PostgreSQL and Redis.
const multiConfig = `
database: {driver: postgres, url: %q}
request_log: {flush_interval: 50ms}
limits:
  backend: redis
  redis: {url: %q, on_error: fail_closed}
channels:
  - {name: sim, provider: simulator}
models:
  - {name: sim-chat, routes: [{channel: sim}]}
`

// TestMultiInstance runs three tollgate processes on one PostgreSQL and
// one Redis. Hammered together, they admit what one GCRA limit of RPM
// admits over the elapsed time (the burst plus the refill), within 2%,
// not three times as much; and a key revoked in the shared store stops
// working on every instance within a second.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	const rpm = 240 // a burst of 240, then one request every 250ms
	dsn, redisURL := pgSchema(t), servicetest.RedisURL(t)
	// Migrate the schema and create the key before any instance starts.
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewKeyID() // fresh ID: fresh counters in the shared Redis
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateKey(t.Context(), store.Key{ID: id, Name: "shared", Hash: auth.Hash(secret), Last4: auth.Last4(secret),
		Limits: store.Limits{RPM: rpm}}); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(multiConfig, dsn, redisURL)
	var bases [3]string
	var wg sync.WaitGroup
	for i := range bases {
		wg.Go(func() { bases[i] = startInstance(t, cfg) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	post := func(base string) (int, error) {
		req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(chatBody("sim-chat", "hi", "")))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}

	// Hammer: 4 workers per instance for 2s.
	const hammer = 2 * time.Second
	var mu sync.Mutex
	counts := map[int]int{}
	began := time.Now()
	stopAt := began.Add(hammer)
	for _, base := range bases {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(stopAt) {
					code, err := post(base)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					counts[code]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(began)
	allowed := float64(rpm) + elapsed.Seconds()*rpm/60
	admitted := counts[http.StatusOK]
	t.Logf("%v in %v; GCRA allows %.1f", counts, elapsed.Round(time.Millisecond), allowed)
	if d := float64(admitted) - allowed; d > 0.02*allowed || d < -0.02*allowed {
		t.Errorf("admitted %d, want %.1f within 2%%", admitted, allowed)
	}
	if len(counts) != 2 || counts[http.StatusTooManyRequests] == 0 {
		t.Errorf("answers %v, want only 200 and 429", counts)
	}

	// Revoke in the shared store; every instance refuses within a second.
	revoked := time.Now()
	if _, err := st.RevokeKey(t.Context(), id, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i, base := range bases {
		for {
			code, err := post(base)
			if err != nil {
				t.Fatal(err)
			}
			if code == http.StatusUnauthorized {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("instance %d still answers %d a second after the revoke", i, code)
			}
			time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
		}
	}
	t.Logf("revoke honoured by all instances after %v", time.Since(revoked).Round(time.Millisecond))
}
