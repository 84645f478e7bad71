package anthropic

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/simupstream"
)

// TestPhaseTimeouts drives the adapter against the simulator's Anthropic
// dialect with slow and stalled answers: each phase's bound fires and the
// error names the phase.
func TestPhaseTimeouts(t *testing.T) {
	t.Parallel()
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"hang":  {Fault: simupstream.Fault{Kind: simupstream.FaultNoResponse}},
		"slow":  {Fault: simupstream.Fault{Kind: simupstream.FaultSlowFirstToken, Delay: time.Minute}},
		"stall": {Fault: simupstream.Fault{Kind: simupstream.FaultStall, After: 3}},
		"cut":   {Fault: simupstream.Fault{Kind: simupstream.FaultCut, After: 3}},
	}})
	a, err := New(Options{Channel: "sim", BaseURL: "http://simulator.invalid", Client: &http.Client{Transport: simupstream.Transport(sim)},
		Timeouts: provider.Timeouts{ResponseHeader: 50 * time.Millisecond, FirstToken: 50 * time.Millisecond, Idle: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model string
		kind  provider.Kind
		phase provider.Phase
	}{
		{"hang", provider.KindTimeout, provider.PhaseResponseHeader},
		{"slow", provider.KindTimeout, provider.PhaseFirstToken},
		{"stall", provider.KindTimeout, provider.PhaseIdle},
		{"cut", provider.KindNetwork, provider.PhaseIdle},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			t.Parallel()
			body := `{"model":"` + tt.model + `","messages":[{"role":"user","content":"hi"}]}`
			resp, err := a.Do(t.Context(), &provider.Request{Endpoint: provider.EndpointChat, Body: []byte(body), Stream: true})
			if err == nil {
				defer resp.Stream.Close()
				for range 100 {
					if _, err = resp.Stream.Next(t.Context()); err != nil {
						break
					}
				}
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || errors.Is(err, io.EOF) || pe.Kind != tt.kind || pe.Phase != tt.phase {
				t.Fatalf("got %v, want %s in phase %s", err, tt.kind, tt.phase)
			}
		})
	}
}
