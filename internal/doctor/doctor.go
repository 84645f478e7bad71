// Package doctor troubleshoots any OpenAI-compatible endpoint (tollgate or
// another) the way a support engineer would: name resolution, TCP and TLS,
// the model list, a plain chat request, the same request streamed, and then
// an analysis of any rate limiting or timeout seen. Each check yields one
// line with a status and, for every problem, the next step; the evidence it
// gathered holds no secrets, so a user can paste it into a support ticket.
//
// The shape follows a small diagnostics core: a [Check] interface, the
// [CheckFunc] adapter and [RunChecks], which runs checks in order and skips
// a check whose prerequisite failed.
package doctor

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Status is the outcome of one check.
type Status string

// The statuses, from best to worst; Skipped means the check did not run.
const (
	StatusOK      Status = "ok"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
)

// Result is what one check found.
type Result struct {
	// Name is the check's name.
	Name string `json:"name"`
	// Status is the outcome.
	Status Status `json:"status"`
	// Summary is one line saying what was found.
	Summary string `json:"summary"`
	// Next is the next step for a problem; empty when there is none.
	Next string `json:"next,omitempty"`
	// Duration is how long the check ran.
	Duration time.Duration `json:"-"`
}

// Check is one diagnostic step. Run reads what earlier checks left in env
// and adds its own evidence there.
type Check interface {
	// Name is a short, stable identifier such as "models".
	Name() string
	// Run performs the check.
	Run(ctx context.Context, env *Env) Result
}

// Prerequisites is implemented by a check that only makes sense when
// other checks did not fail or get skipped.
type Prerequisites interface {
	// Needs names the checks that must not have failed.
	Needs() []string
}

// funcCheck is the Check built by CheckFunc.
type funcCheck struct {
	name  string
	needs []string
	run   func(ctx context.Context, env *Env) Result
}

var (
	_ Check         = funcCheck{}
	_ Prerequisites = funcCheck{}
)

func (c funcCheck) Name() string    { return c.name }
func (c funcCheck) Needs() []string { return c.needs }
func (c funcCheck) Run(ctx context.Context, env *Env) Result {
	return c.run(ctx, env)
}

// CheckFunc returns a Check named name that runs fn, and is skipped when
// any check named in needs failed or was skipped.
func CheckFunc(name string, needs []string, fn func(ctx context.Context, env *Env) Result) Check {
	return funcCheck{name: name, needs: needs, run: fn}
}

// RunChecks runs checks one after another, in order, and returns their
// results in the same order. A check whose prerequisite failed, or was
// itself skipped for that reason, is not run; its result is skipped and
// names the reason. A check that skipped itself as not applicable (such as
// TLS for plain http) blocks nothing. The checks share env, which collects
// the evidence.
func RunChecks(ctx context.Context, env *Env, checks []Check) []Result {
	results := make([]Result, 0, len(checks))
	broken := make(map[string]string, len(checks)) // check name -> why its dependents skip
	for _, c := range checks {
		var r Result
		if reason := blocked(c, broken); reason != "" {
			r = Result{Status: StatusSkipped, Summary: reason}
			broken[c.Name()] = reason
		} else {
			start := env.now()
			r = c.Run(ctx, env)
			r.Duration = env.now().Sub(start)
			if r.Status == StatusFail {
				broken[c.Name()] = fmt.Sprintf("skipped because %s failed", c.Name())
			}
		}
		r.Name = c.Name()
		results = append(results, r)
	}
	return results
}

// blocked returns why c cannot run, or "" when it can.
func blocked(c Check, broken map[string]string) string {
	p, ok := c.(Prerequisites)
	if !ok {
		return ""
	}
	for _, n := range p.Needs() {
		if why, ok := broken[n]; ok {
			return why
		}
	}
	return ""
}

// Failed reports whether any result failed.
func Failed(results []Result) bool {
	return slices.ContainsFunc(results, func(r Result) bool { return r.Status == StatusFail })
}

// ok, warn, fail and skipped build results tersely.
func ok(format string, a ...any) Result {
	return Result{Status: StatusOK, Summary: fmt.Sprintf(format, a...)}
}

func warn(next, format string, a ...any) Result {
	return Result{Status: StatusWarn, Summary: fmt.Sprintf(format, a...), Next: next}
}

func fail(next, format string, a ...any) Result {
	return Result{Status: StatusFail, Summary: fmt.Sprintf(format, a...), Next: next}
}

func skipped(format string, a ...any) Result {
	return Result{Status: StatusSkipped, Summary: fmt.Sprintf(format, a...)}
}
