// Package router maps the model names clients ask for to the channels that
// serve them: names and aliases, routes in priority tiers, and a weighted
// choice among the routes of the best tier.
package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

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
}

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
