// Package idempotencytest is the conformance suite every
// idempotency.Store must pass. A store's tests call Exercise (and
// ExerciseResultLimit) with a function that returns a new, empty store;
// the suite runs one sub-test per behaviour. Behaviours that depend on
// time or capacity (window, claim expiry, eviction) are configured
// differently by each store and are tested next to it.
package idempotencytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/internal/idempotency"
)

// op is one call a scripted step makes.
type op int

const (
	begin op = iota
	finish
	abandon
)

// step is one call against the store and what it must return. For begin,
// want and (for Replay and TooLarge) result are checked; for finish,
// result is the argument. err is the error wanted from any call.
type step struct {
	op          op
	scope, key  string
	fingerprint string
	result      idempotency.Result
	want        idempotency.Outcome
	wantResult  *idempotency.Result
	err         error
}

// Fingerprints of two different request bodies.
var (
	fpA = idempotency.Fingerprint([]byte(`{"model":"a"}`))
	fpB = idempotency.Fingerprint([]byte(`{"model":"b"}`))
)

// Small helpers that keep the script table readable.
func beginS(scope, key, fp string, want idempotency.Outcome) step {
	return step{op: begin, scope: scope, key: key, fingerprint: fp, want: want}
}

func replayS(scope, key string, want idempotency.Result) step {
	return step{op: begin, scope: scope, key: key, fingerprint: want.Fingerprint, want: idempotency.Replay, wantResult: &want}
}

func finishS(scope, key string, r idempotency.Result) step {
	return step{op: finish, scope: scope, key: key, result: r}
}

func abandonS(scope, key string) step { return step{op: abandon, scope: scope, key: key} }

// withErr returns s expecting err.
func (s step) withErr(err error) step { s.err = err; return s }

// bodyResult and streamResult are typical answers; their Fingerprint is
// fpA, as the store must report it after a Begin with fpA.
func bodyResult() idempotency.Result {
	return idempotency.Result{
		Status:      200,
		Header:      map[string]string{"Content-Type": "application/json", "X-Tollgate-Request-Id": "req_1"},
		Body:        []byte(`{"id":"chatcmpl-1","choices":[]}`),
		Fingerprint: fpA,
	}
}

func streamResult() idempotency.Result {
	return idempotency.Result{
		Status: 200,
		Header: map[string]string{"Content-Type": "text/event-stream"},
		Events: [][]byte{
			[]byte(`{"choices":[{"delta":{"content":"he"}}]}`),
			[]byte(`{"choices":[{"delta":{"content":"llo"}}]}`),
			[]byte("[DONE]"),
		},
		Fingerprint: fpA,
	}
}

// withFingerprint returns r with its Fingerprint set to fp.
func withFingerprint(r idempotency.Result, fp string) idempotency.Result {
	r.Fingerprint = fp
	return r
}

// Exercise runs the conformance suite against stores made by newStore,
// which must return a new, empty store each call, configured with a window
// and claim lifetime of at least a minute, room for at least 100 keys and
// a result limit of at least 4 KiB.
func Exercise(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	t.Run("Scripts", func(t *testing.T) { exerciseScripts(t, newStore) })
	t.Run("ConcurrentBeginsStartOnce", func(t *testing.T) { exerciseConcurrent(t, newStore) })
	t.Run("ResultsAreCopies", func(t *testing.T) { exerciseCopies(t, newStore) })
}

// exerciseScripts runs the scripted behaviours, each on a fresh store.
func exerciseScripts(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	deterministic := idempotency.Result{
		Status: 400, Header: map[string]string{"Content-Type": "application/json"},
		Body: []byte(`{"error":{"message":"bad model"}}`), Fingerprint: fpA,
	}
	tooLarge := idempotency.Result{Status: 200, Fingerprint: fpA, TooLarge: true}
	wrongFP := bodyResult()
	wrongFP.Fingerprint = fpB
	tests := []struct {
		name  string
		steps []step
	}{
		{"first begin starts", []step{beginS("k1", "x", fpA, idempotency.Started)}},
		{"repeat while running is in progress", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			beginS("k1", "x", fpA, idempotency.InProgress),
			beginS("k1", "x", fpA, idempotency.InProgress),
		}},
		{"repeat after finish replays body", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", bodyResult()),
			replayS("k1", "x", bodyResult()),
			replayS("k1", "x", bodyResult()),
		}},
		{"repeat after finish replays stream", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", streamResult()),
			replayS("k1", "x", streamResult()),
		}},
		{"deterministic failure replays", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", deterministic),
			replayS("k1", "x", deterministic),
		}},
		{"store sets fingerprint from begin", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", wrongFP),
			replayS("k1", "x", bodyResult()),
		}},
		{"different body while running is mismatch", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			beginS("k1", "x", fpB, idempotency.Mismatch),
		}},
		{"different body after finish is mismatch", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", bodyResult()),
			beginS("k1", "x", fpB, idempotency.Mismatch),
			replayS("k1", "x", bodyResult()),
		}},
		{"scopes isolate keys", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			beginS("k2", "x", fpB, idempotency.Started),
			finishS("k1", "x", bodyResult()),
			beginS("k2", "x", fpB, idempotency.InProgress),
			beginS("k3", "x", fpA, idempotency.Started),
		}},
		{"keys isolate within a scope", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			beginS("k1", "y", fpA, idempotency.Started),
			beginS("k1", "X", fpA, idempotency.Started),
		}},
		{"abandon lets the next begin start", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			abandonS("k1", "x"),
			beginS("k1", "x", fpB, idempotency.Started),
			finishS("k1", "x", bodyResult()),
			replayS("k1", "x", withFingerprint(bodyResult(), fpB)),
		}},
		{"too large marker answers too large", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", idempotency.Result{Status: 200, Body: []byte("partial"), TooLarge: true}),
			{op: begin, scope: "k1", key: "x", fingerprint: fpA, want: idempotency.TooLarge, wantResult: &tooLarge},
			beginS("k1", "x", fpB, idempotency.Mismatch),
		}},
		{"finish without claim fails", []step{
			finishS("k1", "x", bodyResult()).withErr(idempotency.ErrNotClaimed),
			beginS("k1", "x", fpA, idempotency.Started),
		}},
		{"abandon without claim fails", []step{
			abandonS("k1", "x").withErr(idempotency.ErrNotClaimed),
			beginS("k1", "x", fpA, idempotency.Started),
		}},
		{"second finish keeps the first result", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", bodyResult()),
			finishS("k1", "x", streamResult()).withErr(idempotency.ErrNotClaimed),
			replayS("k1", "x", bodyResult()),
		}},
		{"abandon after finish keeps the result", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			finishS("k1", "x", bodyResult()),
			abandonS("k1", "x").withErr(idempotency.ErrNotClaimed),
			replayS("k1", "x", bodyResult()),
		}},
		{"finish after abandon fails", []step{
			beginS("k1", "x", fpA, idempotency.Started),
			abandonS("k1", "x"),
			finishS("k1", "x", bodyResult()).withErr(idempotency.ErrNotClaimed),
			beginS("k1", "x", fpA, idempotency.Started),
		}},
		{"invalid keys are refused", []step{
			beginS("k1", "", fpA, 0).withErr(idempotency.ErrInvalidKey),
			beginS("k1", " x", fpA, 0).withErr(idempotency.ErrInvalidKey),
			beginS("k1", "x\n", fpA, 0).withErr(idempotency.ErrInvalidKey),
			beginS("k1", strings.Repeat("k", idempotency.MaxKeyLen+1), fpA, 0).withErr(idempotency.ErrInvalidKey),
			beginS("k1", strings.Repeat("k", idempotency.MaxKeyLen), fpA, idempotency.Started),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			for i, st := range tt.steps {
				if d := run(t.Context(), s, st); d != "" {
					t.Fatalf("step %d: %s", i, d)
				}
			}
		})
	}
}

// run performs st on s and describes how the answer differs from what st
// wants, or returns "".
func run(ctx context.Context, s idempotency.Store, st step) string {
	var err error
	switch st.op {
	case finish:
		err = s.Finish(ctx, st.scope, st.key, st.result)
		return diffErr(fmt.Sprintf("Finish(%q, %q)", st.scope, st.key), err, st.err)
	case abandon:
		err = s.Abandon(ctx, st.scope, st.key)
		return diffErr(fmt.Sprintf("Abandon(%q, %q)", st.scope, st.key), err, st.err)
	}
	call := fmt.Sprintf("Begin(%q, %.20q, %.8s)", st.scope, st.key, st.fingerprint)
	got, res, err := s.Begin(ctx, st.scope, st.key, st.fingerprint)
	if d := diffErr(call, err, st.err); d != "" || err != nil {
		return d
	}
	if got != st.want {
		return fmt.Sprintf("%s = %v, want %v", call, got, st.want)
	}
	switch {
	case st.wantResult == nil && res != nil:
		return fmt.Sprintf("%s returned a result (status %d), want nil", call, res.Status)
	case st.wantResult != nil && res == nil:
		return fmt.Sprintf("%s returned nil result, want %+v", call, *st.wantResult)
	case st.wantResult != nil:
		if d := DiffResult(*res, *st.wantResult); d != "" {
			return call + " result: " + d
		}
	}
	return ""
}

// diffErr describes a wrong error from call, or returns "".
func diffErr(call string, got, want error) string {
	if (want == nil && got != nil) || (want != nil && !errors.Is(got, want)) {
		return fmt.Sprintf("%s error = %v, want %v", call, got, want)
	}
	return ""
}

// DiffResult describes how got differs from want, or returns "" if they
// are equal. Nil and empty slices and maps count as equal, since a store
// that serialises results need not tell them apart.
func DiffResult(got, want idempotency.Result) string {
	var d []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", field, g, w))
		}
	}
	check("Status", got.Status == want.Status, fmt.Sprint(got.Status), fmt.Sprint(want.Status))
	check("Header", maps.Equal(got.Header, want.Header), fmt.Sprint(got.Header), fmt.Sprint(want.Header))
	check("Body", bytes.Equal(got.Body, want.Body), got.Body, want.Body)
	check("Events", slices.EqualFunc(got.Events, want.Events, bytes.Equal), got.Events, want.Events)
	check("Fingerprint", got.Fingerprint == want.Fingerprint, got.Fingerprint, want.Fingerprint)
	check("TooLarge", got.TooLarge == want.TooLarge, fmt.Sprint(got.TooLarge), fmt.Sprint(want.TooLarge))
	return strings.Join(d, "; ")
}

// exerciseConcurrent checks that of many simultaneous Begins for one key
// exactly one starts, and that the rest see it running.
func exerciseConcurrent(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	const n = 50
	s := newStore(t)
	ctx := t.Context()
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		outcomes = make([]idempotency.Outcome, n)
		errs     = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			outcomes[i], _, errs[i] = s.Begin(ctx, "k1", "same-key", fpA)
		})
	}
	close(start)
	wg.Wait()
	counts := map[idempotency.Outcome]int{}
	for i, o := range outcomes {
		if errs[i] != nil {
			t.Fatalf("Begin %d: %v", i, errs[i])
		}
		counts[o]++
	}
	if counts[idempotency.Started] != 1 || counts[idempotency.InProgress] != n-1 {
		t.Fatalf("outcomes = %v, want 1 started and %d in_progress", counts, n-1)
	}
}

// exerciseCopies checks that neither the caller's Result given to Finish
// nor a replayed Result shares memory with what the store keeps.
func exerciseCopies(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	ctx := t.Context()
	s := newStore(t)
	want := streamResult()
	want.Body = []byte("body too")
	mustBegin(t, s, "k1", "x", fpA, idempotency.Started)
	given := want.Clone()
	if err := s.Finish(ctx, "k1", "x", given); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	scribble(given)
	got := mustBegin(t, s, "k1", "x", fpA, idempotency.Replay)
	if d := DiffResult(*got, want); d != "" {
		t.Fatalf("after changing the Result given to Finish, replay differs: %s", d)
	}
	scribble(*got)
	got = mustBegin(t, s, "k1", "x", fpA, idempotency.Replay)
	if d := DiffResult(*got, want); d != "" {
		t.Fatalf("after changing a replayed Result, the next replay differs: %s", d)
	}
}

// scribble overwrites every byte and header r refers to.
func scribble(r idempotency.Result) {
	for i := range r.Body {
		r.Body[i] = '#'
	}
	for _, e := range r.Events {
		for i := range e {
			e[i] = '#'
		}
	}
	for k := range r.Header {
		r.Header[k] = "#"
	}
	r.Header["X-Added"] = "#"
}

// mustBegin calls Begin and fails the test unless it returns want; it
// returns the Result Begin gave.
func mustBegin(t *testing.T, s idempotency.Store, scope, key, fp string, want idempotency.Outcome) *idempotency.Result {
	t.Helper()
	got, res, err := s.Begin(t.Context(), scope, key, fp)
	if err != nil || got != want {
		t.Fatalf("Begin(%q, %q) = %v, %v; want %v", scope, key, got, err, want)
	}
	return res
}

// ExerciseResultLimit checks the result size limit of stores made by
// newStore, which must return a new, empty store whose limit is limit
// bytes of Result.Size (at least 64): a result of exactly limit bytes
// replays, and one byte more is kept only as a TooLarge marker.
func ExerciseResultLimit(t *testing.T, limit int, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	header := map[string]string{"Content-Type": "application/json"}
	hsize := idempotency.Result{Header: header}.Size()
	events := func(n int) [][]byte {
		half := bytes.Repeat([]byte("e"), n/2)
		return [][]byte{half, bytes.Repeat([]byte("f"), n-len(half))}
	}
	tests := []struct {
		name   string
		result idempotency.Result
		want   idempotency.Outcome
	}{
		{"body at limit replays", idempotency.Result{Status: 200, Header: header, Body: bytes.Repeat([]byte("b"), limit-hsize)}, idempotency.Replay},
		{"body over limit is too large", idempotency.Result{Status: 200, Header: header, Body: bytes.Repeat([]byte("b"), limit-hsize+1)}, idempotency.TooLarge},
		{"stream at limit replays", idempotency.Result{Status: 200, Header: header, Events: events(limit - hsize)}, idempotency.Replay},
		{"stream over limit is too large", idempotency.Result{Status: 200, Header: header, Events: events(limit - hsize + 1)}, idempotency.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustBegin(t, s, "k1", "x", fpA, idempotency.Started)
			if err := s.Finish(t.Context(), "k1", "x", tt.result); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			got := mustBegin(t, s, "k1", "x", fpA, tt.want)
			want := tt.result
			want.Fingerprint = fpA
			if tt.want == idempotency.TooLarge {
				want = idempotency.Result{Status: tt.result.Status, Fingerprint: fpA, TooLarge: true}
			}
			if d := DiffResult(*got, want); d != "" {
				t.Fatalf("result: %s", d)
			}
		})
	}
}
