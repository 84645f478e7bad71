package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// The targets tollgate is held to (BENCHMARKS.md).
const (
	minThroughputRatio = 0.9 // tollgate req/s over the bare proxy's
	maxAddedP50        = 0.3 // ms over calling the upstream directly, at the fixed rate
	maxAddedTTFB       = 1.0 // ms of first stream byte over the upstream's, at the fixed rate
	maxRSSMiB          = 40  // tollgate's resident memory after the run
)

// report is everything one run measured.
type report struct {
	Machine        machine  `json:"machine"`
	Settings       settings `json:"settings"`
	Phases         []phase  `json:"phases"`
	WarmupErrors   int      `json:"warmup_errors"`
	WarmupFirstErr string   `json:"warmup_first_error,omitempty"`
	Memory         memory   `json:"tollgate_memory"`
	// Limits is the evidence that tollgate's limits mode was in force.
	Limits limitsCheck `json:"limits"`
	Ratios ratios      `json:"ratios"`
	Checks []check     `json:"targets"`
}

// ratios compare tollgate with the bare proxy and the direct upstream.
// Added latencies are p50 milliseconds at the fixed rate over calling the
// upstream directly.
type ratios struct {
	ThroughputPlain  float64 `json:"throughput_non_stream"`
	ThroughputStream float64 `json:"throughput_stream"`
	CPUPlain         float64 `json:"cpu_per_request_non_stream,omitempty"`
	CPUStream        float64 `json:"cpu_per_request_stream,omitempty"`
	AddedPlain       added   `json:"added_p50_ms_non_stream"`
	AddedStream      added   `json:"added_p50_ms_stream"`
	AddedTTFB        added   `json:"added_ttfb_p50_ms"`
}

// added is the latency a hop adds, in ms.
type added struct {
	Proxy    float64 `json:"proxy"`
	Tollgate float64 `json:"tollgate"`
}

// check is one target with its verdict.
type check struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Want  string `json:"want"`
	// Verdict is PASS, MISS or n/a (not measurable here).
	Verdict string `json:"verdict"`
}

func (r *report) addWarmup(ws []samples) {
	for _, w := range ws {
		r.WarmupErrors += w.errors
		if w.firstErr != nil && r.WarmupFirstErr == "" {
			r.WarmupFirstErr = w.firstErr.Error()
		}
	}
}

func (r *report) errorCount() int {
	n := r.WarmupErrors
	for _, p := range r.Phases {
		n += p.Errors
	}
	return n
}

func (r *report) firstError() string {
	if r.WarmupFirstErr != "" {
		return r.WarmupFirstErr
	}
	for _, p := range r.Phases {
		if p.FirstError != "" {
			return p.FirstError
		}
	}
	return ""
}

// find returns the phase of target, kind and mode (a zero phase if absent).
func (r *report) find(target, kind, mode string) phase {
	for _, p := range r.Phases {
		if p.Target == target && p.Kind == kind && p.Mode == mode {
			return p
		}
	}
	return phase{}
}

// evaluate computes the ratios and the verdicts.
func (r *report) evaluate() {
	tp := func(target, kind string) phase { return r.find(target, kind, modeThroughput) }
	fr := func(target, kind string) phase { return r.find(target, kind, modeFixedRate) }
	pl, st := kindPlain.name, kindStream.name
	r.Ratios = ratios{
		ThroughputPlain:  ratio(tp(roleTollgate, pl).RPS, tp(roleProxy, pl).RPS),
		ThroughputStream: ratio(tp(roleTollgate, st).RPS, tp(roleProxy, st).RPS),
		CPUPlain:         ratio(tp(roleTollgate, pl).CPUPerReq, tp(roleProxy, pl).CPUPerReq),
		CPUStream:        ratio(tp(roleTollgate, st).CPUPerReq, tp(roleProxy, st).CPUPerReq),
		AddedPlain: added{Proxy: fr(roleProxy, pl).P50 - fr(roleUpstream, pl).P50,
			Tollgate: fr(roleTollgate, pl).P50 - fr(roleUpstream, pl).P50},
		AddedStream: added{Proxy: fr(roleProxy, st).P50 - fr(roleUpstream, st).P50,
			Tollgate: fr(roleTollgate, st).P50 - fr(roleUpstream, st).P50},
		AddedTTFB: added{Proxy: fr(roleProxy, st).TTFB50 - fr(roleUpstream, st).TTFB50,
			Tollgate: fr(roleTollgate, st).TTFB50 - fr(roleUpstream, st).TTFB50},
	}
	x := r.Ratios
	r.Checks = []check{
		{"non-stream throughput, tollgate/proxy", fmt.Sprintf("%.3fx", x.ThroughputPlain),
			fmt.Sprintf(">= %.2fx", minThroughputRatio), verdict(x.ThroughputPlain >= minThroughputRatio)},
		{"stream throughput, tollgate/proxy", fmt.Sprintf("%.3fx", x.ThroughputStream),
			fmt.Sprintf(">= %.2fx", minThroughputRatio), verdict(x.ThroughputStream >= minThroughputRatio)},
		{fmt.Sprintf("added p50 latency at %g req/s (non-stream)", r.Settings.Rate), fmt.Sprintf("%+.3f ms", x.AddedPlain.Tollgate),
			fmt.Sprintf("< %.1f ms", maxAddedP50), verdict(x.AddedPlain.Tollgate < maxAddedP50)},
		{fmt.Sprintf("first stream byte vs upstream at %g req/s (p50)", r.Settings.Rate), fmt.Sprintf("%+.3f ms", x.AddedTTFB.Tollgate),
			fmt.Sprintf("<= %.1f ms", maxAddedTTFB), verdict(x.AddedTTFB.Tollgate <= maxAddedTTFB)},
	}
	mem := check{Name: "memory after the run (RSS)", Want: fmt.Sprintf("< %d MiB", maxRSSMiB), Value: "unknown", Verdict: "n/a"}
	if r.Memory.Known {
		mem.Value = fmt.Sprintf("%.1f MiB", mib(r.Memory.RSS))
		mem.Verdict = verdict(mib(r.Memory.RSS) < maxRSSMiB)
	}
	r.Checks = append(r.Checks, mem)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func writeJSON(w io.Writer, r *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the report for people.
func writeTable(w io.Writer, r *report) error {
	s := r.Settings
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Throughput: closed loop, %d connections, %s per target in %d rounds\n", s.Concurrency, s.Duration, s.Rounds)
	writePhases(tw, r, modeThroughput)
	fmt.Fprintf(tw, "\nLatency: fixed rate %g req/s, %s per target in %d rounds\n", s.Rate, s.RateDuration, s.Rounds)
	writePhases(tw, r, modeFixedRate)
	if err := tw.Flush(); err != nil {
		return err
	}
	x, m := r.Ratios, r.Memory
	fmt.Fprintf(w, "\ntollgate/proxy: throughput %.3fx non-stream, %.3fx stream; CPU per request %.2fx non-stream, %.2fx stream\n",
		x.ThroughputPlain, x.ThroughputStream, x.CPUPlain, x.CPUStream)
	fmt.Fprintf(w, "added p50 at %g req/s vs the upstream: non-stream proxy %+.3f ms, tollgate %+.3f ms; "+
		"stream (whole answer) proxy %+.3f ms, tollgate %+.3f ms\n",
		s.Rate, x.AddedPlain.Proxy, x.AddedPlain.Tollgate, x.AddedStream.Proxy, x.AddedStream.Tollgate)
	fmt.Fprintf(w, "first stream byte p50 vs the upstream: proxy %+.3f ms, tollgate %+.3f ms\n", x.AddedTTFB.Proxy, x.AddedTTFB.Tollgate)
	writeRedisCPU(w, r)
	if m.Known {
		fmt.Fprintf(w, "tollgate memory after the run: RSS %.1f MiB (%.1f anonymous, %.1f files; peak %.1f); bare proxy RSS %.1f MiB (peak %.1f)\n",
			mib(m.RSS), mib(m.RSSAnon), mib(m.RSSFile), mib(m.PeakRSS), mib(m.ProxyRSS), mib(m.ProxyPeakRSS))
	}
	fmt.Fprintf(w, "tollgate Go runtime: heap in use %.1f MiB, heap from OS %.1f MiB, total from OS %.1f MiB, %d GCs, %d goroutines\n",
		mib(m.Go.HeapInuse), mib(m.Go.HeapSys), mib(m.Go.Sys), m.Go.NumGC, m.Go.Goroutines)
	fmt.Fprintf(w, "tollgate request log: %d rows written, %d dropped\n", m.Go.LogWritten, m.Go.LogDropped)
	writeLimits(w, r.Limits)
	if n := r.errorCount(); n > 0 {
		fmt.Fprintf(w, "ERRORS: %d failed request(s) (%d in warm-ups); first: %s\n", n, r.WarmupErrors, r.firstError())
	}
	fmt.Fprintln(w, "\nTargets")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t(want %s)\n", c.Verdict, c.Name, c.Value, c.Want)
	}
	return tw.Flush()
}

// writePhases prints the phases of one mode, one row each.
func writePhases(tw io.Writer, r *report, mode string) {
	fmt.Fprintln(tw, "kind\ttarget\treq/s\tp50 ms\tp99 ms\tTTFB p50\tTTFB p99\tCPU µs/req\tCPU %\treads/req\twrites/req\tother CPU %\tlate\terrors\t")
	for _, p := range r.Phases {
		if p.Mode != mode {
			continue
		}
		ttfb50, ttfb99 := "-", "-"
		if p.Kind == kindStream.name {
			ttfb50, ttfb99 = fmt.Sprintf("%.3f", p.TTFB50), fmt.Sprintf("%.3f", p.TTFB99)
		}
		late := "-"
		if mode == modeFixedRate {
			late = fmt.Sprint(p.Late)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3f\t%.3f\t%s\t%s\t%.0f\t%.0f\t%.1f\t%.1f\t%.0f\t%s\t%d\t\n",
			p.Kind, p.Target, p.RPS, p.P50, p.P99, ttfb50, ttfb99, p.CPUPerReq, p.CPUPercent,
			p.ReadsPerReq, p.WritesPerReq, p.OtherCPU, late, p.Errors)
	}
}

// writeLimits prints the evidence that the limits mode was in force.
func writeLimits(w io.Writer, lc limitsCheck) {
	if lc.Mode == limitsNone {
		fmt.Fprintln(w, "tollgate limits: none")
		return
	}
	fmt.Fprintf(w, "tollgate limits: %s counters; probe before the run: remaining requests %d of %d, tokens %d of %d; after: %d of %d, %d of %d\n",
		lc.Mode, lc.Before.RemainingRequests, lc.Before.LimitRequests, lc.Before.RemainingTokens, lc.Before.LimitTokens,
		lc.After.RemainingRequests, lc.After.LimitRequests, lc.After.RemainingTokens, lc.After.LimitTokens)
	fmt.Fprintf(w, "tollgate charges: owner %s spent %d µ-units of %d credited over %d rows (%.1f per row)",
		lc.Owner, lc.SpentMicros, lc.CreditedMicros, lc.RowsWritten, lc.MeanCostMicros)
	if lc.Mode == limitsRedis {
		fmt.Fprintf(w, "; Redis: %d counters, daily request quota used %d", lc.RedisKeys, lc.RedisDailyRequests)
	}
	fmt.Fprintln(w)
	for _, p := range lc.Problems {
		fmt.Fprintf(w, "LIMITS NOT IN FORCE: %s\n", p)
	}
}

// writeRedisCPU prints what the local Redis server spent on tollgate's
// requests in the throughput phases, and tollgate's CPU per request with it.
func writeRedisCPU(w io.Writer, r *report) {
	pl := r.find(roleTollgate, kindPlain.name, modeThroughput)
	st := r.find(roleTollgate, kindStream.name, modeThroughput)
	if r.Settings.Limits != limitsRedis || (pl.RedisCPUPerReq == 0 && st.RedisCPUPerReq == 0) {
		return
	}
	ppl := r.find(roleProxy, kindPlain.name, modeThroughput)
	pst := r.find(roleProxy, kindStream.name, modeThroughput)
	fmt.Fprintf(w, "Redis server CPU per tollgate request (throughput): %.0f µs non-stream, %.0f µs stream; "+
		"tollgate plus Redis CPU per request over the proxy's: %.2fx non-stream, %.2fx stream\n",
		pl.RedisCPUPerReq, st.RedisCPUPerReq,
		ratio(pl.CPUPerReq+pl.RedisCPUPerReq, ppl.CPUPerReq), ratio(st.CPUPerReq+st.RedisCPUPerReq, pst.CPUPerReq))
}
