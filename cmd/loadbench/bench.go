package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Phase modes.
const (
	modeThroughput = "throughput"
	modeFixedRate  = "fixed-rate"
)

// settleTime is the pause between the last request and the memory reading,
// long enough for the request log to write its last batches.
const settleTime = 500 * time.Millisecond

// env is the three server processes of one run.
type env struct {
	dir      string
	children []*child
	tollgate *child
	proxy    *child
	targets  []target
	auth     []string
	// redisPID is tollgate's local Redis server (-limits redis), or 0.
	redisPID int
}

// run starts the servers, measures every target and request kind, reads
// tollgate's memory and stops the servers. progress receives one line per
// phase. Failed requests do not make run fail; they are in the report.
// On an error rep is nil unless every phase was measured.
func run(ctx context.Context, s settings, progress io.Writer) (rep *report, err error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	e, err := startEnv(ctx, s, progress)
	if err != nil {
		return nil, err
	}
	// A server that fails to stop cleanly (say, tollgate could not write
	// its request log) fails the run, but the measurements are kept.
	defer func() { err = errors.Join(err, stopAll(e.children, progress), os.RemoveAll(e.dir)) }()
	rep = &report{Machine: currentMachine(), Settings: s, Limits: limitsCheck{Mode: s.Limits}}
	// A limits mode that is not in force would measure nothing worth
	// having: check before spending the run on it.
	if rep.Limits.Before, err = e.probeLimits(ctx); err != nil {
		return nil, err
	}
	if bad := checkHeaders(s.Limits, "before the run", rep.Limits.Before); len(bad) > 0 {
		return nil, fmt.Errorf("tollgate's limits are not as configured: %s", strings.Join(bad, "; "))
	}
	for _, k := range []kind{kindPlain, kindStream} {
		if err := e.measureKind(ctx, s, k, rep, progress); err != nil {
			return nil, err
		}
	}
	if err := sleepCtx(ctx, settleTime); err != nil {
		return nil, err
	}
	if rep.Memory, err = e.memory(ctx); err != nil {
		return nil, err
	}
	if err := e.finishLimits(ctx, &rep.Limits); err != nil {
		return nil, err
	}
	rep.evaluate()
	if len(rep.Limits.Problems) > 0 {
		return rep, fmt.Errorf("tollgate's limits (-limits %s) were not in force: %s", s.Limits, strings.Join(rep.Limits.Problems, "; "))
	}
	return rep, nil
}

// startEnv starts the upstream, the bare proxy and tollgate.
func startEnv(ctx context.Context, s settings, logs io.Writer) (*env, error) {
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	fail := func(err error) (*env, error) {
		return nil, errors.Join(err, stopAll(e.children, logs), os.RemoveAll(dir))
	}
	up, err := startChild(ctx, roleUpstream, "-tokens", strconv.Itoa(s.StreamTokens))
	if err != nil {
		return fail(err)
	}
	e.children = append(e.children, up)
	upBase := "http://" + up.hello.Addr
	e.proxy, err = startChild(ctx, roleProxy, "-upstream", upBase, "-max-idle", strconv.Itoa(max(256, 2*s.Concurrency)))
	if err != nil {
		return fail(err)
	}
	e.children = append(e.children, e.proxy)
	tgArgs := []string{"-upstream", upBase + "/v1", "-dir", dir, "-limits", s.Limits, "-redis-url", s.RedisURL}
	if s.CPUProfile != "" {
		abs, err := filepath.Abs(s.CPUProfile)
		if err != nil {
			return fail(err)
		}
		tgArgs = append(tgArgs, "-cpuprofile", abs)
	}
	e.tollgate, err = startChild(ctx, roleTollgate, tgArgs...)
	if err != nil {
		return fail(err)
	}
	e.children = append(e.children, e.tollgate)
	fmt.Fprintf(logs, "tollgate: pid %d, pprof at http://%s/debug/pprof/\n", e.tollgate.pid(), e.tollgate.hello.Side)
	e.auth = []string{"Bearer " + e.tollgate.hello.Key}
	if pid := e.tollgate.hello.RedisPID; pid > 0 {
		if _, err := readProc(pid); err == nil {
			e.redisPID = pid
			fmt.Fprintf(logs, "redis: pid %d; its CPU is reported apart, not as outside load\n", pid)
		}
	}
	for _, c := range e.children {
		e.targets = append(e.targets, target{name: c.role, url: "http://" + c.hello.Addr + "/v1/chat/completions", pid: c.pid()})
	}
	return e, nil
}

// measureKind measures every target with one request kind: a warm-up per
// target, then the throughput and the fixed-rate phase. Each phase is cut
// into s.Rounds slices that visit the targets in turn, starting one later
// each round, so a burst of load from outside the benchmark, or a drift
// of the machine, hits every target alike instead of one of them.
func (e *env) measureKind(ctx context.Context, s settings, k kind, rep *report, progress io.Writer) error {
	loads := make([]load, len(e.targets))
	for i, t := range e.targets {
		loads[i] = load{client: newClient(s.Concurrency), target: t, kind: k, auth: e.auth, workers: s.Concurrency}
		defer loads[i].client.CloseIdleConnections()
	}
	if s.Warmup > 0 {
		fmt.Fprintf(progress, "%-10s warm-up, %s per target\n", k.name, s.Warmup)
		for i := range loads {
			loads[i].duration = s.Warmup
			ws, _ := loads[i].run(ctx)
			rep.addWarmup(ws)
		}
	}
	phases := []struct {
		mode     string
		rate     float64
		duration time.Duration
	}{
		{modeThroughput, 0, s.Duration},
		{modeFixedRate, s.Rate, s.RateDuration},
	}
	for _, ph := range phases {
		slice := ph.duration / time.Duration(s.Rounds)
		fmt.Fprintf(progress, "%-10s %s, %d rounds of %s per target\n", k.name, ph.mode, s.Rounds, slice)
		acc := make([]tally, len(loads))
		for round := range s.Rounds {
			for j := range loads {
				i := (round + j) % len(loads)
				l := &loads[i]
				l.rate, l.duration = ph.rate, slice
				before := e.cpu(l.target)
				ws, elapsed := l.run(ctx)
				acc[i].add(ws, elapsed, before, e.cpu(l.target))
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		for i, l := range loads {
			p := acc[i].phase()
			if l.target.name != roleTollgate {
				p.RedisCPUPerReq = 0 // only tollgate uses Redis; the rest is other users'
			}
			p.Target, p.Kind, p.Mode = l.target.name, k.name, ph.mode
			rep.Phases = append(rep.Phases, p)
		}
	}
	return nil
}

// tally adds up the slices of one target's phase.
type tally struct {
	ws                []samples
	elapsed           time.Duration
	cpu, other, redis time.Duration
	reads, writes     uint64
	cpuUnknown        bool
}

func (t *tally) add(ws []samples, elapsed time.Duration, before, after cpuSnap) {
	t.ws = append(t.ws, ws...)
	t.elapsed += elapsed
	if !before.known || !after.known {
		t.cpuUnknown = true
		return
	}
	t.cpu += after.target - before.target
	t.reads += after.reads - before.reads
	t.writes += after.writes - before.writes
	t.redis += after.redis - before.redis
	t.other += (after.machine - before.machine) - (after.ours - before.ours)
}

// phase summarizes the tally; the caller names it.
func (t *tally) phase() phase {
	p := summarize(t.ws, t.elapsed)
	if !t.cpuUnknown && p.Requests > 0 && t.elapsed > 0 {
		p.CPUPerReq = float64(t.cpu.Microseconds()) / float64(p.Requests)
		p.CPUPercent = 100 * t.cpu.Seconds() / t.elapsed.Seconds()
		p.OtherCPU = max(0, 100*t.other.Seconds()/t.elapsed.Seconds())
		p.RedisCPUPerReq = float64(t.redis.Microseconds()) / float64(p.Requests)
		p.ReadsPerReq = float64(t.reads) / float64(p.Requests)
		p.WritesPerReq = float64(t.writes) / float64(p.Requests)
	}
	return p
}

// cpuSnap is the CPU time used so far by one target's process, by all the
// benchmark's processes (tollgate's local Redis server included) and by
// the whole machine, and by that Redis server.
type cpuSnap struct {
	known                        bool
	target, ours, machine, redis time.Duration
	reads, writes                uint64 // the target's system calls
}

// cpu takes a cpuSnap for target t; known is false without /proc.
func (e *env) cpu(t target) cpuSnap {
	busy, ok := systemBusy()
	self, err := readProc(os.Getpid())
	if !ok || err != nil || !self.Known {
		return cpuSnap{}
	}
	c := cpuSnap{known: true, machine: busy, ours: self.CPU}
	for _, ch := range e.children {
		st, err := readProc(ch.pid())
		if err != nil {
			return cpuSnap{}
		}
		c.ours += st.CPU
		if ch.pid() == t.pid {
			c.target = st.CPU
			c.reads, c.writes = st.Reads, st.Writes
		}
	}
	if e.redisPID > 0 {
		st, err := readProc(e.redisPID)
		if err != nil {
			return cpuSnap{}
		}
		c.ours += st.CPU
		c.redis = st.CPU
	}
	return c
}

// memory reads tollgate's (and the bare proxy's) memory after the run.
func (e *env) memory(ctx context.Context) (memory, error) {
	var m memory
	tg, err := readProc(e.tollgate.pid())
	if err != nil {
		return m, fmt.Errorf("reading tollgate's memory: %w", err)
	}
	px, err := readProc(e.proxy.pid())
	if err != nil {
		return m, fmt.Errorf("reading the proxy's memory: %w", err)
	}
	m.Known = tg.Known
	m.RSS, m.PeakRSS, m.RSSAnon, m.RSSFile = tg.RSS, tg.PeakRSS, tg.RSSAnon, tg.RSSFile
	m.ProxyRSS, m.ProxyPeakRSS = px.RSS, px.PeakRSS
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.tollgate.hello.Side+"/mem", nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, fmt.Errorf("asking tollgate's process for its Go memory: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&m.Go); err != nil {
		return m, fmt.Errorf("decoding tollgate's Go memory: %w", err)
	}
	return m, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
