package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
)

// Response headers that explain how a request was served.
const (
	headerAttempts  = "X-Tollgate-Attempts"
	headerChannel   = "X-Tollgate-Channel"
	headerModel     = "X-Tollgate-Model"
	headerFallback  = "X-Tollgate-Fallback"
	headerContinued = "X-Tollgate-Continued"
)

// relayOnce serves a non-stream request: attempts follow the plan until
// one answers with valid JSON, which is forwarded unchanged.
func (s *Server) relayOnce(ctx context.Context, w http.ResponseWriter, r *http.Request, rr *relayRequest) {
	rec := recordFrom(r.Context())
	obj := chunkObjects.Get().(*jsonpeek.Object) // indexes each answer; nothing keeps it
	defer func() {
		obj.Reset()
		chunkObjects.Put(obj)
	}()
	for {
		a, err := rr.plan.Next(ctx)
		if err != nil {
			s.failRelay(ctx, w, r, rr, err)
			return
		}
		rec.row.Channel = a.Target.Channel
		started := time.Now()
		at := s.startAttempt(rec, a.N)
		resp, err := rr.send(ctx, a, rr.requestFor(a, rec.row.RequestID))
		rec.upstream += time.Since(started) + a.Waited
		if err == nil {
			s.answered(at, resp.Status)
		}
		s.ended(at)
		var body []byte
		if err == nil {
			if err = jsonpeek.ParseInto(obj, resp.Body); err != nil {
				err = &provider.Error{Kind: provider.KindMalformed, Phase: provider.PhaseBody, Channel: a.Target.Channel,
					Message: "the upstream answered with invalid JSON", Err: err}
			} else {
				body, err = answerBody(rec, rr, a, resp.Body)
			}
		}
		rr.plan.Done(a, err)
		if err != nil {
			continue
		}
		rec.upstreamID = resp.UpstreamRequestID
		rec.answerBytes = int64(len(resp.Body))
		switch {
		case rr.responsesPassthrough():
			captureResponsesAnswer(rec, *obj)
		case rr.passthrough():
			captureMessagesAnswer(rec, *obj)
		default:
			rec.row.FinishReason = openai.FinishReason(resp.Body)
			captureUsage(rec, *obj)
		}
		if served, ok, _ := obj.String("model"); ok {
			rec.row.ModelServed = clip(served, 200)
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		setOutcomeHeaders(h, rr, a, false)
		s.settleSuccess(r, nil, body)
		if rec.bodies != nil {
			rec.bodies.setAnswer(body)
		}
		// With its length known the answer goes out in one write, now:
		// settling, the request log and the metrics come after the
		// client has it.
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		_ = http.NewResponseController(w).Flush()
		return
	}
}

// setOutcomeHeaders says how the request was served.
func setOutcomeHeaders(h http.Header, rr *relayRequest, a router.Attempt, continued bool) {
	setHeaders(h, headerAttempts, strconv.Itoa(len(rr.plan.Records())), headerChannel, a.Target.Channel, headerModel, a.Model.Name,
		headerFallback, strconv.FormatBool(a.Fallback), headerContinued, strconv.FormatBool(continued))
}

// setHeaders sets h[key] to value for each key, value pair of kv, as
// Header.Set does, with one allocation for all the values instead of one
// per key. Every key must already be in canonical form.
func setHeaders(h http.Header, kv ...string) {
	vals := make([]string, len(kv)/2)
	for i := range vals {
		vals[i] = kv[2*i+1]
		h[kv[2*i]] = vals[i : i+1 : i+1]
	}
}

// failRelay answers a request whose attempts are exhausted. The total
// deadline and a client that left are told apart from upstream failures.
func (s *Server) failRelay(ctx context.Context, w http.ResponseWriter, r *http.Request, rr *relayRequest, err error) {
	rec := recordFrom(r.Context())
	ae := s.relayError(ctx, rr, err)
	if ae.Status == statusClientClosed {
		rec.err = ae
		rec.statusOverride = statusClientClosed
		return
	}
	h := w.Header()
	h.Set(headerAttempts, strconv.Itoa(len(rr.plan.Records())))
	if len(rr.plan.Records()) > 1 {
		// tollgate already retried; an SDK retry would multiply attempts.
		ae.NoRetry = true
	}
	s.writeError(w, r, ae)
}

// relayError maps the error that ended a request's attempts.
func (s *Server) relayError(ctx context.Context, rr *relayRequest, err error) *apiError {
	records := rr.plan.Records()
	if errors.Is(context.Cause(ctx), errTotalTimeout) {
		ch := ""
		if n := len(records); n > 0 {
			ch = records[n-1].Target.Channel
		}
		return totalTimeout(rr.deadline, ch, len(records), err)
	}
	var nt *router.NoTargetError
	if errors.As(err, &nt) && nt.RateLimited {
		return &apiError{Status: http.StatusTooManyRequests, Type: typeRequests, Code: "rate_limit_exceeded", RetryAfter: nt.RetryIn,
			Message: fmt.Sprintf("The upstream provider serving model %s is rate limiting (this is the provider's limit, not your tollgate key's); tollgate holds requests back until it accepts more.%s", nt.Model, retryHint(nt.RetryIn)),
			Cause:   err}
	}
	if errors.As(err, &nt) {
		return &apiError{Status: http.StatusServiceUnavailable, Type: typeServerError, Code: "no_healthy_channel", RetryAfter: nt.RetryIn,
			Message: fmt.Sprintf("Every channel that serves model %s is failing or cooling down, so tollgate did not send the request.%s", nt.Model, retryHint(nt.RetryIn)),
			Cause:   err}
	}
	if errors.Is(err, context.Canceled) || router.Classify(err) == router.ClassCanceled {
		return &apiError{Status: statusClientClosed, Type: typeInvalidRequest, Code: "client_closed",
			Message: "The client closed the request before it finished.", Cause: err}
	}
	ae := toAPIError(err)
	if n := len(records); n > 0 && ae.Status >= 500 {
		ae.Message = fmt.Sprintf("%s (attempt %d of %d)", ae.Message, n, rr.plan.MaxAttempts())
	}
	return ae
}

// recordAttempts copies the attempts into the request log row.
func (s *Server) recordAttempts(r *http.Request, rr *relayRequest) {
	rec := recordFrom(r.Context())
	records := rr.plan.Records()
	rec.row.Attempts = len(records)
	if s.opts.Metrics != nil {
		rec.attempts = metricAttempts(records)
	}
	debug := s.log.Enabled(r.Context(), slog.LevelDebug)
	if s.opts.RequestLog != nil || debug || s.opts.Tracer != nil {
		rec.row.Timeline = timeline(records, rec.timings)
	}
	if debug {
		s.logAttempts(r.Context(), rec)
	}
	if len(records) == 0 {
		return
	}
	last := records[len(records)-1]
	rec.row.Channel = last.Target.Channel
	rec.row.Fallback = last.Fallback
	for _, rc := range records {
		if rc.Err == nil {
			continue
		}
		var pe *provider.Error
		if errors.As(rc.Err, &pe) {
			rec.row.FailedPhase = string(pe.Phase)
		}
		if errors.Is(rc.Err, errTotalTimeout) {
			// The request's total deadline ended the attempt: a timeout in
			// the total phase, not a client that left.
			rec.row.FailedPhase = string(provider.PhaseTotal)
			rc.Class = router.ClassTimeout
		}
		rec.row.RetryReasons = appendReason(rec.row.RetryReasons, rc)
	}
}

// appendReason adds "attempt N channel: class" to a semicolon list.
func appendReason(list string, rc router.Record) string {
	if list != "" {
		list += "; "
	}
	return list + fmt.Sprintf("#%d %s: %s", rc.N, rc.Target.Channel, rc.Class)
}

// totalTimeout describes the whole-request deadline running out.
func totalTimeout(limit time.Duration, channel string, attempts int, cause error) *apiError {
	return &apiError{Status: http.StatusGatewayTimeout, Type: typeServerError, Code: "timeout",
		Message: fmt.Sprintf("Timed out in the total phase: the request did not finish within its %v limit (channel %s, attempt %d). Retry, or ask for a shorter answer.", limit, orNone(channel), attempts),
		Cause:   cause}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
