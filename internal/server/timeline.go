package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/store"
)

// attemptTiming is what the relay measured about one upstream attempt.
type attemptTiming struct {
	started time.Time
	ttfb    time.Duration // until the upstream's answer began
	dur     time.Duration // the whole attempt, relayed stream included
	status  int           // the upstream's status on success
}

// timing returns the timing of attempt n (counted from 1), growing the
// list as needed.
func (rec *record) timing(n int) *attemptTiming {
	if n < 1 {
		n = 1
	}
	for len(rec.timings) < n {
		rec.timings = append(rec.timings, attemptTiming{})
	}
	return &rec.timings[n-1]
}

// startAttempt notes that attempt n starts now and returns its timing.
func (s *Server) startAttempt(rec *record, n int) *attemptTiming {
	t := rec.timing(n)
	*t = attemptTiming{started: s.opts.Now()}
	return t
}

// answered notes that the upstream's answer began.
func (s *Server) answered(t *attemptTiming, status int) {
	t.ttfb = s.opts.Now().Sub(t.started)
	t.status = status
}

// ended notes that the attempt is over.
func (s *Server) ended(t *attemptTiming) { t.dur = s.opts.Now().Sub(t.started) }

// timeline turns the plan's records and the relay's timings into the
// request log's attempt sub-rows: channel, model, status, failure class,
// public error, failed phase, why the next attempt followed, and timings.
func timeline(records []router.Record, timings []attemptTiming) []store.Attempt {
	if len(records) == 0 {
		return nil
	}
	out := make([]store.Attempt, len(records))
	for i, rc := range records {
		a := store.Attempt{N: rc.N, Channel: rc.Target.Channel, Class: string(rc.Class)}
		if rc.Model != nil {
			a.Model = rc.Model.Name
		}
		if rc.N >= 1 && rc.N <= len(timings) {
			t := timings[rc.N-1]
			a.Started, a.TTFB, a.Duration, a.Status = t.started, t.ttfb, t.dur, t.status
		}
		if rc.Err != nil {
			var pe *provider.Error
			if errors.As(rc.Err, &pe) {
				a.Phase = string(pe.Phase)
				if pe.Kind == provider.KindStatus {
					a.Status = pe.Status
				}
			}
			if errors.Is(rc.Err, errTotalTimeout) {
				a.Class, a.Phase = string(router.ClassTimeout), string(provider.PhaseTotal)
			}
			// The public message: what a client would have been told,
			// never the upstream's raw body or a secret.
			a.Error = clip(toAPIError(rc.Err).Message, 500)
			if i+1 < len(records) {
				a.RetryReason = nextMove(rc, records[i+1]) + " after " + orNone(a.Class)
			}
		}
		out[i] = a
	}
	return out
}

// nextMove names what followed attempt rc: a retry of the same channel, a
// failover to another channel, or a fallback to another model.
func nextMove(rc, next router.Record) string {
	switch {
	case next.Model != rc.Model:
		return "fallback"
	case next.Target.Channel == rc.Target.Channel:
		return "retry"
	default:
		return "failover"
	}
}

// logAttempts writes one debug line per upstream attempt, with the stable
// keys request_id, key_id, model, channel, attempt and phase. It never
// logs a secret or a body: only the facts of the request log.
func (s *Server) logAttempts(ctx context.Context, rec *record) {
	for _, a := range rec.row.Timeline {
		s.log.LogAttrs(ctx, slog.LevelDebug, "upstream attempt",
			slog.String("request_id", rec.row.RequestID), slog.String("key_id", rec.row.KeyID),
			slog.String("model", a.Model), slog.String("channel", a.Channel), slog.Int("attempt", a.N),
			slog.Int("status", a.Status), slog.String("class", a.Class), slog.String("phase", a.Phase),
			slog.String("retry_reason", a.RetryReason), slog.Duration("duration", a.Duration), slog.String("error", a.Error))
	}
}

// logRequest writes the debug line of a finished request, with the same
// stable keys as logAttempts.
func (s *Server) logRequest(row *store.RequestLog) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "request",
		slog.String("request_id", row.RequestID), slog.String("key_id", row.KeyID), slog.String("model", row.ModelRequested),
		slog.String("channel", row.Channel), slog.String("endpoint", row.Endpoint), slog.Int("status", row.Status),
		slog.String("error_type", row.ErrorType), slog.String("phase", row.FailedPhase), slog.Int("attempt", row.Attempts),
		slog.Bool("stream", row.Stream), slog.Duration("duration", row.Duration), slog.Duration("ttfb", row.TTFB))
}
