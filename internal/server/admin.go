package server

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/breaker"
)

// CircuitReporter exposes the circuit breaker's state; breaker.Set
// satisfies it.
type CircuitReporter interface {
	Snapshot() []breaker.Snapshot
}

// BudgetReporter exposes the retry budget's counts; retrybudget.Budget
// satisfies it.
type BudgetReporter interface {
	Stats(channel string) (requests, retries int)
}

// adminOnly lets only admin keys through.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := principalFrom(r.Context()); !p.Admin {
			s.writeError(w, r, &apiError{Status: http.StatusForbidden, Type: typeForbidden, Code: "admin_required",
				Message: "The admin API needs an admin key; this key (" + p.Masked + ") is not one. An operator creates one with `tollgate keys create --name NAME --admin`."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// channelView is one channel in GET /admin/channels.
type channelView struct {
	Name        string        `json:"name"`
	Requests    int           `json:"requests_in_window"`
	Retries     int           `json:"retries_in_window"`
	Circuits    []circuitView `json:"circuits"`
	WorstState  string        `json:"state"`
	UpstreamFor []string      `json:"models"`
}

// circuitView is the breaker state of one channel and upstream model.
type circuitView struct {
	UpstreamModel       string     `json:"upstream_model"`
	State               string     `json:"state"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Failures            int        `json:"failures_in_window"`
	Outcomes            int        `json:"outcomes_in_window"`
	OpenUntil           *time.Time `json:"open_until,omitempty"`
	Cooldown            string     `json:"cooldown"`
}

// adminChannels answers GET /admin/channels: each channel with its retry
// budget use and the circuit state of each of its upstream models.
func (s *Server) adminChannels(w http.ResponseWriter, _ *http.Request) {
	byName := map[string]*channelView{}
	for _, m := range s.opts.Routes.Models() {
		for _, t := range m.Targets {
			cv, ok := byName[t.Channel]
			if !ok {
				cv = &channelView{Name: t.Channel, WorstState: breaker.Closed.String(), Circuits: []circuitView{}}
				byName[t.Channel] = cv
			}
			cv.UpstreamFor = append(cv.UpstreamFor, m.Name)
		}
	}
	if s.opts.Circuits != nil {
		for _, snap := range s.opts.Circuits.Snapshot() {
			ch, model, _ := strings.Cut(snap.Channel, "/")
			cv, ok := byName[ch]
			if !ok {
				continue
			}
			c := circuitView{UpstreamModel: model, State: snap.State.String(), ConsecutiveFailures: snap.ConsecutiveFailures,
				Failures: snap.Failures, Outcomes: snap.Total, Cooldown: snap.Cooldown.String()}
			if snap.State != breaker.Closed {
				t := snap.OpenUntil.UTC()
				c.OpenUntil = &t
				if cv.WorstState != breaker.Open.String() {
					cv.WorstState = snap.State.String()
				}
			}
			cv.Circuits = append(cv.Circuits, c)
		}
	}
	out := make([]channelView, 0, len(byName))
	for _, cv := range byName {
		if s.opts.Budget != nil {
			cv.Requests, cv.Retries = s.opts.Budget.Stats(cv.Name)
		}
		out = append(out, *cv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": out})
}
