package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// procStat is what /proc says about one process.
type procStat struct {
	// Known is false where /proc is not available.
	Known bool
	// RSS and PeakRSS are the resident and peak resident memory in bytes;
	// RSSAnon and RSSFile split RSS into anonymous memory (heaps, stacks)
	// and mapped files (mostly the program's code).
	RSS, PeakRSS, RSSAnon, RSSFile uint64
	// CPU is the user plus system CPU time used so far.
	CPU time.Duration
	// Reads and Writes count the read and write system calls made so far
	// (from /proc/PID/io; zero when it cannot be read).
	Reads, Writes uint64
}

// phase is the summary of one measured phase. Latencies are milliseconds.
type phase struct {
	Target     string  `json:"target"`
	Kind       string  `json:"kind"`
	Mode       string  `json:"mode"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Late       int     `json:"late,omitempty"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"requests_per_second"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	TTFB50     float64 `json:"ttfb_p50_ms,omitempty"`
	TTFB99     float64 `json:"ttfb_p99_ms,omitempty"`
	// CPUPerReq is the target process's CPU time per request, in µs
	// (0 if unknown); CPUPercent is its CPU use, 100 = one core.
	CPUPerReq  float64 `json:"cpu_us_per_request,omitempty"`
	CPUPercent float64 `json:"cpu_percent,omitempty"`
	// OtherCPU is the CPU used meanwhile by processes outside the
	// benchmark (100 = one core): a phase with much of it was disturbed.
	OtherCPU float64 `json:"other_cpu_percent"`
	// RedisCPUPerReq is, for tollgate with -limits redis and a local Redis
	// server, that server's CPU time per request in µs (not in OtherCPU).
	RedisCPUPerReq float64 `json:"redis_cpu_us_per_request,omitempty"`
	// ReadsPerReq and WritesPerReq are the target process's read and
	// write system calls per request (every socket and file included).
	ReadsPerReq  float64 `json:"reads_per_request,omitempty"`
	WritesPerReq float64 `json:"writes_per_request,omitempty"`
}

// summarize merges the workers' samples into a phase.
func summarize(ws []samples, elapsed time.Duration) phase {
	var p phase
	var lat, ttfb []time.Duration
	for _, w := range ws {
		p.Errors += w.errors
		p.Late += w.late
		if w.firstErr != nil && p.FirstError == "" {
			p.FirstError = w.firstErr.Error()
		}
		lat = append(lat, w.lat...)
		ttfb = append(ttfb, w.ttfb...)
	}
	slices.Sort(lat)
	slices.Sort(ttfb)
	p.Requests = len(lat)
	p.Seconds = elapsed.Seconds()
	if p.Seconds > 0 {
		p.RPS = float64(p.Requests) / p.Seconds
	}
	p.P50, p.P99 = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99))
	p.TTFB50, p.TTFB99 = ms(quantile(ttfb, 0.50)), ms(quantile(ttfb, 0.99))
	return p
}

// quantile returns the q-quantile of sorted (nearest rank), 0 if empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memory is tollgate's memory after the run, with the bare proxy's RSS for
// comparison.
type memory struct {
	Known        bool     `json:"known"`
	RSS          uint64   `json:"rss_bytes"`
	PeakRSS      uint64   `json:"peak_rss_bytes"`
	RSSAnon      uint64   `json:"rss_anon_bytes"`
	RSSFile      uint64   `json:"rss_file_bytes"`
	ProxyRSS     uint64   `json:"proxy_rss_bytes"`
	ProxyPeakRSS uint64   `json:"proxy_peak_rss_bytes"`
	Go           memStats `json:"go"`
}

// machine describes where the benchmark ran.
type machine struct {
	CPUs   int    `json:"cpus"`
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	Go     string `json:"go"`
	OS     string `json:"os"`
	Kernel string `json:"kernel,omitempty"`
}

func currentMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), CPU: cpuModel(), Memory: memTotal(),
		Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func describeMachine() string {
	m := currentMachine()
	parts := []string{fmt.Sprintf("%d CPUs", m.CPUs)}
	for _, s := range []string{m.CPU, m.Memory, m.Go, m.OS, m.Kernel} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func describeSettings(s settings) string {
	return fmt.Sprintf("throughput: %d connections, %s per target after a %s warm-up; latency: %g req/s for %s per target; "+
		"phases cut in %d rounds that rotate through the targets; %d tokens per answer; tollgate limits: %s",
		s.Concurrency, s.Duration, s.Warmup, s.Rate, s.RateDuration, s.Rounds, s.StreamTokens, describeLimits(s.Limits))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// describeLimits says what a -limits mode turns on.
func describeLimits(mode string) string {
	if mode == limitsNone {
		return "none"
	}
	return mode + " counters (key, model and global RPM/TPM/concurrency, daily request/token/cost quotas, " +
		"monthly budget, owner balance, model price; never reached)"
}
