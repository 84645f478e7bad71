// Command loadbench is tollgate's load benchmark. On loopback it drives
// three targets with the same OpenAI chat requests, plain and streamed:
//
//   - upstream: the simulated OpenAI upstream (simupstream), called directly;
//   - proxy: a bare net/http/httputil.ReverseProxy in front of it, with a
//     tuned keep-alive pool;
//   - tollgate: the gateway built by app.New, with key checks and the
//     request log on, in front of the same upstream.
//
// Each target runs in its own process (the command re-executes itself with
// a hidden role argument), so the CPU and memory each one uses are its own.
// For every request kind the command measures throughput with closed-loop
// workers, then latency at a fixed request rate, each phase cut into rounds
// that visit the targets in turn (so load from outside the benchmark hits
// them alike). It prints requests/s, p50 and p99 latency, time to the
// first stream byte, tollgate's ratios to the bare proxy, tollgate's memory
// after the run, and whether each target of BENCHMARKS.md is met.
//
// Usage:
//
//	go run ./cmd/loadbench [-duration 10s] [-concurrency 32] [-rate 1000] [-limits none|memory|redis] [-json] [-quick]
//
// With -limits memory or redis, tollgate runs with per-key, per-model and
// global rate and concurrency limits, daily request, token and cost
// quotas, a monthly budget, an owner's prepaid balance and a price for the
// model, all set far above what the run uses, with the counters in memory
// or in Redis (-redis-url). The run checks that they were in force (the
// rate limit headers count a probe request before and after the run, the
// owner is charged for the run's requests, and with Redis the key's
// counters are there) and fails otherwise.
//
// The exit status is 1 if any request failed (a non-200 answer, a broken
// body or a stream without its [DONE] marker) or a process did not start,
// and 2 for bad flags. Missing a performance target is reported as MISS
// but is not an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

// settings are the knobs of one benchmark run.
type settings struct {
	// Duration is the length of each closed-loop (throughput) phase, per
	// target.
	Duration time.Duration `json:"duration_ns"`
	// Warmup is the closed-loop run before each measured phase, not counted.
	Warmup time.Duration `json:"warmup_ns"`
	// Concurrency is the number of closed-loop workers (and connections).
	Concurrency int `json:"concurrency"`
	// Rate is the request rate of the fixed-rate (latency) phases, per second.
	Rate float64 `json:"rate"`
	// RateDuration is the length of each fixed-rate phase, per target.
	RateDuration time.Duration `json:"rate_duration_ns"`
	// Rounds cuts each phase into this many slices per target, visited in
	// turn, so outside load and drift hit every target alike.
	Rounds int `json:"rounds"`
	// StreamTokens is the answer length in tokens; a stream carries one
	// event per token plus the role, finish, usage and [DONE] events.
	StreamTokens int `json:"stream_tokens"`
	// CPUProfile, if set, is where the tollgate process writes a CPU
	// profile covering its whole life.
	CPUProfile string `json:"-"`
	// Limits turns tollgate's limits and quotas on: "none", or "memory" or
	// "redis" for where the counters live. They are set far above what the
	// run can use, so they cost what checking them costs but never refuse.
	Limits string `json:"limits"`
	// RedisURL is the Redis of -limits redis.
	RedisURL string `json:"-"`
}

// defaultSettings are the values of a full run.
func defaultSettings() settings {
	return settings{
		Duration:     10 * time.Second,
		Warmup:       2 * time.Second,
		Concurrency:  32,
		Rate:         1000,
		RateDuration: 5 * time.Second,
		Rounds:       5,
		StreamTokens: 24,
		Limits:       limitsNone,
		RedisURL:     defaultRedisURL,
	}
}

// quickSettings shorten every phase for a smoke run.
func quickSettings(s settings) settings {
	s.Duration = time.Second
	s.Warmup = 250 * time.Millisecond
	s.RateDuration = time.Second
	return s
}

func (s settings) validate() error {
	switch {
	case s.Duration <= 0 || s.RateDuration <= 0 || s.Warmup < 0:
		return errors.New("-duration and -rate-duration must be positive, -warmup not negative")
	case s.Duration > time.Hour || s.RateDuration > time.Hour || s.Warmup > time.Hour:
		return errors.New("phases are limited to one hour")
	case s.Concurrency < 1 || s.Concurrency > 4096:
		return errors.New("-concurrency must be between 1 and 4096")
	case s.Rate <= 0 || s.Rate > 1e6:
		return errors.New("-rate must be between 0 and 1e6 requests/s")
	case s.Rounds < 1 || s.Rounds > 1000:
		return errors.New("-rounds must be between 1 and 1000")
	case s.Duration/time.Duration(s.Rounds) < 10*time.Millisecond || s.RateDuration/time.Duration(s.Rounds) < 10*time.Millisecond:
		return errors.New("each round must last at least 10ms: lower -rounds or raise the durations")
	case s.StreamTokens < 1 || s.StreamTokens > 100000:
		return errors.New("-stream-tokens must be between 1 and 100000")
	case !validLimitsMode(s.Limits):
		return fmt.Errorf("-limits must be none, memory or redis, not %q", s.Limits)
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(cliMain(os.Args[1:], os.Stdout, os.Stderr))
}

// cliMain parses the flags, runs the benchmark and prints the report.
func cliMain(args []string, stdout, stderr io.Writer) int {
	s, asJSON, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadbench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The generator allocates per request (net/http does); collecting less
	// often keeps its pauses out of the latencies of every target alike.
	debug.SetGCPercent(400)
	if !asJSON {
		fmt.Fprintf(stdout, "loadbench: %s\n", describeMachine())
		fmt.Fprintf(stdout, "%s\n\n", describeSettings(s))
	}
	rep, runErr := run(ctx, s, stderr)
	if rep != nil {
		var err error
		if asJSON {
			err = writeJSON(stdout, rep)
		} else {
			err = writeTable(stdout, rep)
		}
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "loadbench:", runErr)
		return 1
	}
	if n := rep.errorCount(); n > 0 {
		fmt.Fprintf(stderr, "loadbench: %d request(s) failed; first: %s\n", n, rep.firstError())
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (settings, bool, error) {
	s := defaultSettings()
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&s.Duration, "duration", s.Duration, "length of each throughput phase")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "unmeasured warm-up before each target and request kind")
	fs.IntVar(&s.Concurrency, "concurrency", s.Concurrency, "closed-loop workers (connections) in the throughput phases")
	fs.Float64Var(&s.Rate, "rate", s.Rate, "requests/s of the fixed-rate latency phases")
	fs.DurationVar(&s.RateDuration, "rate-duration", s.RateDuration, "length of each fixed-rate phase")
	fs.IntVar(&s.Rounds, "rounds", s.Rounds, "slices per phase, rotating through the targets")
	fs.IntVar(&s.StreamTokens, "stream-tokens", s.StreamTokens, "answer length in tokens (stream events per answer)")
	fs.StringVar(&s.CPUProfile, "cpuprofile", "", "write a CPU profile of the tollgate process to `file`")
	fs.StringVar(&s.Limits, "limits", s.Limits, "tollgate's limits and quotas: none, or on (never reached) with memory or redis counters")
	fs.StringVar(&s.RedisURL, "redis-url", s.RedisURL, "Redis `URL` for -limits redis")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quick := fs.Bool("quick", false, "short smoke run (1s phases); explicit duration flags still win")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/loadbench [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return s, false, err
	}
	if fs.NArg() > 0 {
		return s, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		q := quickSettings(s)
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			s.Duration = q.Duration
		}
		if !set["warmup"] {
			s.Warmup = q.Warmup
		}
		if !set["rate-duration"] {
			s.RateDuration = q.RateDuration
		}
	}
	return s, *asJSON, s.validate()
}
