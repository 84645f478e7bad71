package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Checks returns the doctor's checks in the order that isolates faults:
// the network first, then authentication and the model, then a plain
// request, then a stream, then the analysis of rate limits and timeouts.
func Checks() []Check {
	return []Check{
		CheckFunc("dns", nil, checkDNS),
		CheckFunc("tcp", []string{"dns"}, checkTCP),
		CheckFunc("tls", []string{"tcp"}, checkTLS),
		CheckFunc("models", []string{"tcp", "tls"}, checkModels),
		CheckFunc("chat", []string{"models"}, checkChat),
		CheckFunc("stream", []string{"models"}, checkStream),
		CheckFunc("rate-limit", []string{"tcp"}, checkRateLimit),
		CheckFunc("timeouts", []string{"tcp"}, checkTimeouts),
	}
}

// Report is the outcome of a run.
type Report struct {
	// Results are the checks' results, in order.
	Results []Result
	// Bundle is the evidence, free of secrets.
	Bundle Bundle

	opts Options
}

// Passed reports whether no check failed.
func (r *Report) Passed() bool { return !Failed(r.Results) }

// Run checks the endpoint opts describe and returns the report. It fails
// only for invalid options; every problem with the endpoint is a result.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	base, _ := url.Parse(opts.BaseURL)
	cl, err := newClient(opts, now)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	env := &Env{opts: opts, base: base, client: cl, now: now}
	started := now()
	results := RunChecks(ctx, env, Checks())
	rep := &Report{Results: results, opts: opts}
	rep.Bundle = Bundle{
		Tool: "tollgate doctor", Time: started.UTC().Format(time.RFC3339), BaseURL: redactURL(base),
		Key: MaskKey(opts.APIKey), Model: opts.Model, Passed: rep.Passed(), Checks: results,
		Network: env.Network, Models: len(env.Models), Exchanges: env.Exchanges,
	}
	if rep.Bundle.Exchanges == nil {
		rep.Bundle.Exchanges = []*Exchange{}
	}
	for k := range opts.Header {
		rep.Bundle.Headers = append(rep.Bundle.Headers, k)
	}
	slices.Sort(rep.Bundle.Headers)
	if opts.Proxy != "" {
		if p, err := url.Parse(opts.Proxy); err == nil {
			rep.Bundle.Proxy = redactURL(p)
		}
	}
	rep.Bundle.Tollgate = slices.ContainsFunc(env.Exchanges, func(x *Exchange) bool { return x.isTG })
	return rep, nil
}

// WriteText writes the readable report: one line per check, the next step
// under each problem, and a verdict.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(fmt.Sprintf("tollgate doctor: %s, model %s, key %s\n\n", r.Bundle.BaseURL, r.Bundle.Model, r.Bundle.Key))
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Name))
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-9s %-*s  %s\n", "["+string(res.Status)+"]", width, res.Name, res.Summary)
		if res.Next != "" {
			fmt.Fprintf(&b, "%-9s %-*s  next: %s\n", "", width, "", res.Next)
		}
	}
	switch {
	case !r.Passed():
		n := 0
		for _, res := range r.Results {
			if res.Status == StatusFail {
				n++
			}
		}
		fmt.Fprintf(&b, "\n%d check(s) failed. Run with --json for an evidence bundle (no secrets) to attach to a support ticket.\n", n)
	case slices.ContainsFunc(r.Results, func(res Result) bool { return res.Status == StatusWarn }):
		b.WriteString("\nAll checks passed, with warnings.\n")
	default:
		b.WriteString("\nAll checks passed.\n")
	}
	_, err := w.Write(r.opts.scrub(b.Bytes()))
	return err
}

// WriteJSON writes the evidence bundle as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	data, err := json.MarshalIndent(r.Bundle, "", "  ")
	if err != nil {
		return err
	}
	data = append(r.opts.scrub(data), '\n')
	_, err = w.Write(data)
	return err
}

// String returns the text report.
func (r *Report) String() string {
	var sb strings.Builder
	_ = r.WriteText(&sb)
	return sb.String()
}
