package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// serveProcessEnv, when set, makes TestServeProcess run `tollgate serve`
// with the arguments in the variable (separated by newlines) as a real
// process would, signals included, and exit with its status.
const serveProcessEnv = "TOLLGATE_TEST_SERVE_ARGS"

// TestServeProcess is the child process of TestSIGTERMUnderLoad; run
// normally it does nothing.
func TestServeProcess(t *testing.T) {
	args := os.Getenv(serveProcessEnv)
	if args == "" {
		t.Skip("only runs as the child of TestSIGTERMUnderLoad")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, strings.Split(args, "\n"), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// sigtermConfig serves a paced simulator so that requests are in flight
// when the signal arrives; %s is the SQLite file. The request log keeps
// its default flush interval, so rows are still queued at the signal.
const sigtermConfig = `
database: {path: %q}
server: {shutdown_timeout: 20s}
channels:
  - name: sim
    provider: simulator
    simulator:
      default: {latency: 5ms, tokens_per_second: 400, length: 16}
models:
  - {name: sim-chat, routes: [{channel: sim}]}
`

// TestSIGTERMUnderLoad starts tollgate as a process on a file database,
// drives mixed stream and non-stream load at concurrency 20, sends SIGTERM
// mid-load, and checks that the process exits 0 and that every request
// that got an HTTP response has exactly one request log row, and no other
// rows exist: rows written equal requests answered.
func TestSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "tollgate.db")
	cfgPath := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, sigtermConfig, db), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := createKey(t, db)

	cmd := exec.Command(os.Args[0], "-test.run=^TestServeProcess$")
	cmd.Env = append(os.Environ(), serveProcessEnv+"=serve\n--config\n"+cfgPath+"\n--addr\n127.0.0.1:0")
	out := &childLog{addr: make(chan string, 1)}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // only if the test failed before Wait
	logs := out.String
	var base string
	select {
	case a := <-out.addr:
		base = "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("tollgate did not start listening:\n%s", logs())
	}

	const total, concurrency, signalAfter = 500, 20, 250
	var (
		issued, answered atomic.Int64
		mu               sync.Mutex
		ids              = map[string]int{}
		signalled        = make(chan struct{})
		once             sync.Once
		wg               sync.WaitGroup
	)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	for range concurrency {
		wg.Go(func() {
			for {
				n := issued.Add(1)
				if n > total {
					return
				}
				id, ok := loadRequest(client, base, secret, n%2 == 0)
				if !ok {
					// The server is gone; every later request would fail too.
					return
				}
				mu.Lock()
				ids[id]++
				mu.Unlock()
				if answered.Add(1) == signalAfter {
					once.Do(func() {
						if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
							t.Errorf("sending SIGTERM: %v", err)
						}
						close(signalled)
					})
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-signalled:
	default:
		t.Fatalf("load ended before the signal (%d answered)", answered.Load())
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("tollgate exited with %v, want status 0:\n%s", err, logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tollgate did not exit after SIGTERM:\n%s", logs())
	}

	rows := readRows(t, db)
	t.Logf("%d requests answered of %d issued, %d rows", answered.Load(), min(issued.Load(), total), len(rows))
	if answered.Load() >= total {
		t.Errorf("all %d requests were answered: the signal did not stop tollgate mid-load", total)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("request id %s answered %d times", id, n)
		}
		if rows[id] != 1 {
			t.Errorf("answered request %s has %d log rows, want 1", id, rows[id])
		}
	}
	for id, n := range rows {
		if ids[id] == 0 {
			t.Errorf("log row %s (%d) belongs to no answered request", id, n)
		}
	}
	if len(rows) != len(ids) {
		t.Errorf("%d rows written for %d requests answered", len(rows), len(ids))
	}
}

// loadRequest sends one chat request and reads the whole answer. It
// returns the answer's request id, and false if no HTTP response came.
func loadRequest(client *http.Client, base, secret string, stream bool) (string, bool) {
	body := `{"model":"sim-chat","messages":[{"role":"user","content":"drain"}],"stream":` + fmt.Sprint(stream) + `}`
	req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return "", false
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // a cut body still was an answer
	return resp.Header.Get("X-Request-Id"), true
}

// createKey stores an unrestricted key in the database file and returns
// its secret.
func createKey(t *testing.T, path string) string {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateKey(t.Context(), store.Key{ID: id, Name: "load", Hash: auth.Hash(secret), Last4: auth.Last4(secret)}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// readRows counts the request log rows per request id.
func readRows(t *testing.T, path string) map[string]int {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.ListRequestLogs(t.Context(), store.LogFilter{Limit: store.MaxLogLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == store.MaxLogLimit {
		t.Fatal("more rows than one page; lower the load")
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.RequestID]++
	}
	return out
}

var listeningAddr = regexp.MustCompile(`tollgate listening"? addr=(\S+)`)

// childLog collects the child's log and reports, once, the address it
// listens on. It is safe for concurrent use.
type childLog struct {
	mu   sync.Mutex
	buf  strings.Builder
	addr chan string
	sent bool
}

func (l *childLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.sent {
		if m := listeningAddr.FindStringSubmatch(l.buf.String()); m != nil {
			l.sent = true
			l.addr <- m[1]
		}
	}
	return len(p), nil
}

// String returns the log so far.
func (l *childLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
