// Package router maps the model names clients ask for to the channels that
// serve them: names and aliases, routes in priority tiers, and a weighted
// choice among the routes of the best tier.
package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/tollgate/tollgate/internal/backoff"
	"github.com/tollgate/tollgate/internal/provider"
)

// Target is one way to serve a model: a channel and the upstream's name
// for the model there.
type Target struct {
	// Channel is the channel's name.
	Channel string
	// Adapter sends requests to the channel.
	Adapter provider.Adapter
	// UpstreamModel is the model name the channel expects.
	UpstreamModel string
	// Weight shares traffic among targets of the same priority.
	Weight int
	// Priority orders targets; lower is preferred.
	Priority int
	// Timeouts bound the phases of attempts on this target.
	Timeouts provider.Timeouts
	// Prefill reports whether the channel continues an assistant prefill.
	Prefill bool
}

// CircuitKey names the target's circuit: its channel and upstream model,
// so that one overloaded model does not shut a channel's other models out.
// A channel that is down fails every key of its own quickly.
func (t Target) CircuitKey() string { return t.Channel + "/" + t.UpstreamModel }

// Model is a routable model.
type Model struct {
	// Name is the canonical name.
	Name string
	// Aliases are other names for it.
	Aliases []string
	// OwnedBy is shown in the model list.
	OwnedBy string
	// Targets are the ways to serve it, sorted by priority.
	Targets []Target
	// Fallbacks are the models tried, in order, when this one fails with
	// one of their classes. They refer to models of the same Table by name.
	Fallbacks []Fallback
	// Total bounds a whole request for this model, every attempt, backoff
	// and fallback included. Zero means no bound.
	Total time.Duration
	// Policies are the retry policies per endpoint ("chat",
	// "completions", "embeddings"); a missing endpoint uses DefaultPolicy.
	Policies map[string]Policy

	fallbackModels []*Model
}

// Fallback names a model to try when another fails.
type Fallback struct {
	// Model is the fallback model's canonical name.
	Model string
	// On lists the classes that trigger it.
	On []Class
}

// Policy says how often and when an attempt is repeated.
type Policy struct {
	// MaxAttempts caps upstream attempts per request, fallbacks included.
	MaxAttempts int
	// Backoff spaces retries of the same channel.
	Backoff backoff.Policy
	// RetryOn lists the classes that may be retried.
	RetryOn []Class
}

// DefaultPolicy is used when a model has no policy for an endpoint.
func DefaultPolicy() Policy {
	return Policy{MaxAttempts: 3, Backoff: backoff.Policy{Initial: 250 * time.Millisecond, Max: 5 * time.Second},
		RetryOn: []Class{ClassRateLimit, ClassTimeout, ClassServerError}}
}

// Policy returns the model's retry policy for an endpoint.
func (m *Model) Policy(endpoint string) Policy {
	if p, ok := m.Policies[endpoint]; ok {
		return p
	}
	return DefaultPolicy()
}

// Table resolves model names. It is immutable after New and safe for
// concurrent use.
type Table struct {
	byName map[string]*Model
	models []*Model
}

// New builds a Table. Names and aliases must be unique and every model
// needs a target with positive weight.
func New(models []Model) (*Table, error) {
	t := &Table{byName: make(map[string]*Model, len(models)*2)}
	for i := range models {
		m := models[i]
		m.Aliases = slices.Clone(m.Aliases)
		m.Targets = slices.Clone(m.Targets)
		if len(m.Targets) == 0 {
			return nil, fmt.Errorf("model %q has no targets", m.Name)
		}
		sort.SliceStable(m.Targets, func(a, b int) bool { return m.Targets[a].Priority < m.Targets[b].Priority })
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			if _, dup := t.byName[name]; dup {
				return nil, fmt.Errorf("model name %q is defined twice", name)
			}
			t.byName[name] = &m
		}
		t.models = append(t.models, &m)
	}
	for _, m := range t.models {
		for _, fb := range m.Fallbacks {
			fm, ok := t.byName[fb.Model]
			if !ok {
				return nil, fmt.Errorf("model %q: unknown fallback model %q", m.Name, fb.Model)
			}
			m.fallbackModels = append(m.fallbackModels, fm)
		}
	}
	return t, nil
}

// Resolve finds a model by name or alias.
func (t *Table) Resolve(name string) (*Model, bool) {
	m, ok := t.byName[name]
	return m, ok
}

// Models returns the routable models in configuration order.
func (t *Table) Models() []*Model { return t.models }

// Names returns every name and alias, sorted.
func (t *Table) Names() []string {
	names := make([]string, 0, len(t.byName))
	for n := range t.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Pick chooses a target: a weighted random choice among the targets of the
// best (lowest) priority.
func (m *Model) Pick() Target {
	best := m.Targets[0].Priority
	total := 0
	n := 0
	for _, tg := range m.Targets {
		if tg.Priority != best {
			break
		}
		total += max(tg.Weight, 0)
		n++
	}
	if n == 1 || total <= 0 {
		return m.Targets[0]
	}
	r := rand.IntN(total)
	for _, tg := range m.Targets[:n] {
		r -= max(tg.Weight, 0)
		if r < 0 {
			return tg
		}
	}
	return m.Targets[0]
}
