package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/app"
	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/store"
)

// benchModel is the model name every benchmark request asks for.
const benchModel = "bench"

// tollgateYAML is the gateway's configuration: one OpenAI-compatible
// channel to the upstream, the request log on (its defaults), SQLite in
// the run's temporary directory.
const tollgateYAML = `
database:
  path: %s
log:
  level: warn
request_log:
  enabled: true
channels:
  - name: upstream
    provider: openai
    base_url: %s
models:
  - name: ` + benchModel + `
    routes: [{channel: upstream}]
`

// memStats is what the tollgate child's side listener reports at /mem.
type memStats struct {
	HeapInuse  uint64 `json:"heap_inuse_bytes"`
	HeapSys    uint64 `json:"heap_sys_bytes"`
	Sys        uint64 `json:"go_sys_bytes"`
	NumGC      uint32 `json:"num_gc"`
	Goroutines int    `json:"goroutines"`
	LogWritten uint64 `json:"request_log_written"`
	LogDropped uint64 `json:"request_log_dropped"`
}

// runTollgate builds the gateway with app.New, creates one key, serves the
// API on one loopback listener and memory stats plus pprof on another.
func runTollgate(ctx context.Context, args []string) (err error) {
	fs := flag.NewFlagSet(roleTollgate, flag.ContinueOnError)
	upstream := fs.String("upstream", "", "upstream base `URL`, e.g. http://127.0.0.1:9000/v1")
	dir := fs.String("dir", "", "`directory` for the SQLite database")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `file`")
	limits := fs.String("limits", limitsNone, "limits and quotas: none, memory or redis")
	redisURL := fs.String("redis-url", defaultRedisURL, "Redis `URL` for -limits redis")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *upstream == "" || *dir == "" {
		return errors.New("-upstream and -dir are required")
	}
	if !validLimitsMode(*limits) {
		return fmt.Errorf("bad -limits %q", *limits)
	}
	gov := &benchGovernance{mode: *limits}
	if *limits == limitsRedis {
		if gov.rdb, err = openRedis(ctx, *redisURL); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, gov.close()) }()
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopProfile()) }()
	}
	yaml := fmt.Sprintf(tollgateYAML, strconv.Quote(filepath.Join(*dir, "tollgate.db")), strconv.Quote(*upstream)) +
		tollgateLimitsYAML(*limits, *redisURL)
	cfg, err := config.Parse([]byte(yaml), "loadbench tollgate config", nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, app.Options{Logger: log, Version: "loadbench"})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, a.Close(cctx))
	}()
	secret, err := createKey(ctx, a, gov)
	if err != nil {
		return err
	}
	if *limits != limitsNone {
		if err := gov.credit(ctx, a); err != nil {
			return err
		}
	}
	return serveTollgate(ctx, a, gov, secret)
}

// serveTollgate serves the gateway and the side listener until ctx ends.
func serveTollgate(ctx context.Context, a *app.App, gov *benchGovernance, secret string) error {
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	side, err := listenLoopback()
	if err != nil {
		_ = ln.Close()
		return err
	}
	sideDone := make(chan error, 1)
	go func() { sideDone <- serveUntil(ctx, side, sideMux(a, gov)) }()
	if err := sayHello(hello{Addr: ln.Addr().String(), Side: side.Addr().String(), Key: secret, RedisPID: gov.redisPID(ctx)}); err != nil {
		_ = ln.Close()
		return errors.Join(err, <-sideDone)
	}
	err = serveUntil(ctx, ln, a.Handler)
	return errors.Join(err, <-sideDone)
}

// createKey stores a new key and puts it in the cache at once. With limits
// on, the key gets the benchmark's limits, quotas and budget and an owner
// (credited by the caller); gov learns the key's ID.
func createKey(ctx context.Context, a *app.App, gov *benchGovernance) (string, error) {
	secret, err := auth.NewSecret()
	if err != nil {
		return "", err
	}
	id, err := auth.NewKeyID()
	if err != nil {
		return "", err
	}
	key := store.Key{ID: id, Name: "loadbench", Hash: auth.Hash(secret), Last4: auth.Last4(secret)}
	if gov.mode != limitsNone {
		key.Limits, key.Owner = benchKeyLimits, benchOwner(id)
	}
	k, err := a.Store.CreateKey(ctx, key)
	if err != nil {
		return "", fmt.Errorf("creating the benchmark key: %w", err)
	}
	a.Keys.Apply(k)
	gov.keyID = k.ID
	return secret, nil
}

// sideMux serves /mem, /limits and net/http/pprof. It belongs to the
// benchmark process, not to tollgate's server.
func sideMux(a *app.App, gov *benchGovernance) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mem", func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := memStats{HeapInuse: ms.HeapInuse, HeapSys: ms.HeapSys, Sys: ms.Sys, NumGC: ms.NumGC,
			Goroutines: runtime.NumGoroutine()}
		if rl := a.RequestLog(); rl != nil {
			st.LogWritten, st.LogDropped = rl.Written(), rl.Dropped()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /limits", gov.handler(a))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startCPUProfile profiles the process into path until the returned func.
func startCPUProfile(path string) (func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		rpprof.StopCPUProfile()
		return f.Close()
	}, nil
}
