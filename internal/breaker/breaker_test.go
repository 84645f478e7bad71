package breaker

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Verbs of a scripted step.
const (
	doAllow    = "allow"
	doSuccess  = "success"
	doFailure  = "failure"
	doRelease  = "release"
	doCoolDown = "cooldown"
)

// step is one call in a scripted scenario. The fake clock advances by
// sleep first; the call is then made n times (at least once) and the
// channel's state must be state afterwards.
type step struct {
	sleep time.Duration
	do    string
	probe bool          // for success, failure, release
	d     time.Duration // for cooldown
	n     int
	state State

	// Expected results of allow.
	ok, isProbe bool
	retryIn     time.Duration
}

func fail(n int, state State) step    { return step{do: doFailure, n: n, state: state} }
func succeed(n int, state State) step { return step{do: doSuccess, n: n, state: state} }
func rejected(sleep, retryIn time.Duration, state State) step {
	return step{sleep: sleep, do: doAllow, retryIn: retryIn, state: state}
}
func probeAllowed(sleep time.Duration) step {
	return step{sleep: sleep, do: doAllow, ok: true, isProbe: true, state: HalfOpen}
}

var allowedClosed = step{do: doAllow, ok: true, state: Closed}

func TestTransitions(t *testing.T) {
	const cd = 10 * time.Second
	consecutiveOnly := Options{ConsecutiveFailures: 3, Cooldown: cd, MaxCooldown: 25 * time.Second}
	ratioOnly := Options{FailureRatio: 0.5, MinRequests: 10, Cooldown: cd}
	tests := []struct {
		name    string
		opts    Options
		steps   []step
		changes []string
	}{
		{
			name:    "consecutive failures open the channel",
			opts:    DefaultOptions(),
			steps:   []step{fail(4, Closed), allowedClosed, fail(1, Open), rejected(0, cd, Open)},
			changes: []string{"closed>open"},
		},
		{
			name:    "success in closed state resets the consecutive count",
			opts:    consecutiveOnly,
			steps:   []step{fail(2, Closed), succeed(1, Closed), fail(2, Closed), succeed(1, Closed), fail(2, Closed), fail(1, Open)},
			changes: []string{"closed>open"},
		},
		{
			name: "failure ratio opens only with MinRequests outcomes",
			opts: ratioOnly,
			steps: []step{
				fail(5, Closed), succeed(4, Closed), // 5 of 9 failed, below MinRequests
				fail(1, Open), // 6 of 10
			},
			changes: []string{"closed>open"},
		},
		{
			name: "failure ratio below the threshold stays closed",
			opts: ratioOnly,
			steps: []step{
				succeed(6, Closed), fail(4, Closed), // 40%
				fail(1, Closed), // 5 of 11
				fail(1, Open),   // 6 of 12
			},
			changes: []string{"closed>open"},
		},
		{
			name: "failure ratio window forgets old outcomes",
			opts: ratioOnly,
			steps: []step{
				fail(5, Closed),
				{sleep: DefaultWindow, do: doSuccess, n: 5, state: Closed},
				fail(4, Closed), // 4 of 9: the first 5 failures left the window
				fail(1, Open),   // 5 of 10
			},
			changes: []string{"closed>open"},
		},
		{
			name: "probe success forgets the failure ratio window",
			opts: ratioOnly,
			steps: []step{
				succeed(4, Closed), fail(6, Open),
				probeAllowed(cd),
				{do: doSuccess, probe: true, state: Closed},
				fail(1, Closed), // 1 of 1, below MinRequests
				succeed(4, Closed), fail(4, Closed),
				fail(1, Open), // 5 of 10
			},
			changes: []string{"closed>open", "open>half_open", "half_open>closed", "closed>open"},
		},
		{
			name:  "no trigger configured never opens",
			opts:  Options{},
			steps: []step{fail(1000, Closed), allowedClosed},
		},
		{
			name: "open rejects with accurate retryIn",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				rejected(0, cd, Open),
				rejected(3*time.Second, 7*time.Second, Open),
				rejected(6999*time.Millisecond, time.Millisecond, Open),
				probeAllowed(time.Millisecond),
			},
			changes: []string{"closed>open", "open>half_open"},
		},
		{
			name: "probe success closes",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				probeAllowed(cd),
				rejected(0, cd, HalfOpen),
				{do: doSuccess, probe: true, state: Closed},
				allowedClosed,
				fail(2, Closed), // counters were reset
				fail(1, Open),
				rejected(0, cd, Open), // cooldown was reset
			},
			changes: []string{"closed>open", "open>half_open", "half_open>closed", "closed>open"},
		},
		{
			name: "probe failure reopens with doubled cooldown up to MaxCooldown",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				probeAllowed(cd),
				{do: doFailure, probe: true, state: Open},
				rejected(0, 20*time.Second, Open),
				probeAllowed(20 * time.Second),
				{do: doFailure, probe: true, state: Open},
				rejected(0, 25*time.Second, Open),
				probeAllowed(25 * time.Second),
				{do: doFailure, probe: true, state: Open},
				rejected(0, 25*time.Second, Open),
				probeAllowed(25 * time.Second),
				{do: doSuccess, probe: true, state: Closed},
				fail(3, Open),
				rejected(0, cd, Open),
			},
			changes: []string{
				"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>open",
				"open>half_open", "half_open>open", "open>half_open", "half_open>closed", "closed>open",
			},
		},
		{
			name: "cooldown for 429 opens at once and keeps the later end",
			opts: consecutiveOnly,
			steps: []step{
				{do: doCoolDown, d: 30 * time.Second, state: Open},
				rejected(0, 30*time.Second, Open),
				{sleep: 10 * time.Second, do: doCoolDown, d: 5 * time.Second, state: Open},
				rejected(0, 20*time.Second, Open),
				{do: doCoolDown, d: 40 * time.Second, state: Open},
				rejected(0, 40*time.Second, Open),
				probeAllowed(40 * time.Second),
				{do: doSuccess, probe: true, state: Closed},
			},
			changes: []string{"closed>open", "open>half_open", "half_open>closed"},
		},
		{
			name: "cooldown of zero does nothing",
			opts: consecutiveOnly,
			steps: []step{
				allowedClosed,
				{do: doCoolDown, d: 0, state: Closed},
				{do: doCoolDown, d: -time.Second, state: Closed},
				allowedClosed,
			},
		},
		{
			name: "cooldown does not double the cooldown",
			opts: consecutiveOnly,
			steps: []step{
				{do: doCoolDown, d: time.Minute, state: Open},
				probeAllowed(time.Minute),
				{do: doFailure, probe: true, state: Open},
				rejected(0, 20*time.Second, Open),
			},
			changes: []string{"closed>open", "open>half_open", "half_open>open"},
		},
		{
			name: "cooldown during a probe reopens and ignores the late verdict",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				probeAllowed(cd),
				{do: doCoolDown, d: 5 * time.Second, state: Open},
				{do: doSuccess, probe: true, state: Open},
				rejected(0, 5*time.Second, Open),
			},
			changes: []string{"closed>open", "open>half_open", "half_open>open"},
		},
		{
			name: "release frees the probe slot",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				probeAllowed(cd),
				rejected(time.Second, 9*time.Second, HalfOpen),
				{do: doRelease, probe: true, state: HalfOpen},
				probeAllowed(0),
				{do: doRelease, probe: false, state: HalfOpen}, // not a probe: slot stays taken
				rejected(0, cd, HalfOpen),
			},
			changes: []string{"closed>open", "open>half_open"},
		},
		{
			name: "stale probe lets another probe through after the cooldown",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				probeAllowed(cd),
				rejected(9*time.Second, time.Second, HalfOpen),
				probeAllowed(time.Second),
				rejected(0, cd, HalfOpen),
				{do: doSuccess, probe: true, state: Closed},
			},
			changes: []string{"closed>open", "open>half_open", "half_open>closed"},
		},
		{
			name: "outcomes of requests let through before opening change nothing",
			opts: consecutiveOnly,
			steps: []step{
				fail(3, Open),
				succeed(5, Open),
				fail(5, Open),
				probeAllowed(cd),
				succeed(5, HalfOpen),
				fail(5, HalfOpen),
				rejected(0, cd, HalfOpen),
			},
			changes: []string{"closed>open", "open>half_open"},
		},
		{
			name: "release of a request that was not a probe changes nothing",
			opts: consecutiveOnly,
			steps: []step{
				fail(2, Closed),
				{do: doRelease, n: 10, state: Closed},
				fail(1, Open),
			},
			changes: []string{"closed>open"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var changes []string
				tt.opts.OnChange = func(ch string, from, to State) {
					if ch != "ch" {
						t.Errorf("OnChange for channel %q, want %q", ch, "ch")
					}
					changes = append(changes, from.String()+">"+to.String())
				}
				s := New(tt.opts)
				for i, st := range tt.steps {
					runStep(t, s, i, st)
				}
				if !slices.Equal(changes, tt.changes) {
					t.Errorf("OnChange calls:\n got %q\nwant %q", changes, tt.changes)
				}
			})
		})
	}
}

func runStep(t *testing.T, s *Set, i int, st step) {
	t.Helper()
	time.Sleep(st.sleep)
	for range max(st.n, 1) {
		switch st.do {
		case doAllow:
			ok, probe, retryIn := s.Allow("ch")
			if ok != st.ok || probe != st.isProbe || retryIn != st.retryIn {
				t.Fatalf("step %d: Allow = %v, %v, %v; want %v, %v, %v", i, ok, probe, retryIn, st.ok, st.isProbe, st.retryIn)
			}
		case doSuccess:
			s.Success("ch", st.probe)
		case doFailure:
			s.Failure("ch", st.probe)
		case doRelease:
			s.Release("ch", st.probe)
		case doCoolDown:
			s.CoolDown("ch", st.d)
		default:
			t.Fatalf("step %d: unknown verb %q", i, st.do)
		}
	}
	if got := stateOf(s, "ch"); got != st.state {
		t.Fatalf("step %d (%s): state %v, want %v", i, st.do, got, st.state)
	}
}

func stateOf(s *Set, channel string) State {
	for _, snap := range s.Snapshot() {
		if snap.Channel == channel {
			return snap.State
		}
	}
	return -1
}
