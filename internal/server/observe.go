package server

import (
	"errors"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/metrics"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/store"
)

// observe hands a finished request to the metrics, with bounded labels:
// the configured model and channel, never what the client sent.
func (s *Server) observe(rec *record, row store.RequestLog) {
	if s.opts.Metrics == nil {
		return
	}
	model := rec.model
	if model == "" {
		model = "unknown"
	}
	channel := ""
	if rec.model != "" {
		channel = row.Channel
	}
	var overhead time.Duration
	if !row.Stream && rec.upstream > 0 && row.Duration > rec.upstream {
		overhead = row.Duration - rec.upstream
	}
	s.opts.Metrics.RequestFinished(metrics.Request{
		Endpoint: rec.endpoint, Model: model, Channel: channel, Stream: row.Stream, Status: row.Status,
		ErrorType: row.ErrorType, Duration: row.Duration, TTFB: row.TTFB, TTFT: row.TTFT, Overhead: overhead,
		Attempts: row.Attempts, Fallback: row.Fallback, Continued: row.Continued, Truncated: row.Truncated,
		PromptTokens: row.PromptTokens, CompletionTokens: row.CompletionTokens, CostMicros: int64(row.CostMicros),
	}, rec.attempts)
}

// metricAttempts converts a plan's records for the metrics.
func metricAttempts(records []router.Record) []metrics.Attempt {
	out := make([]metrics.Attempt, len(records))
	for i, rc := range records {
		a := metrics.Attempt{Channel: rc.Target.Channel, Class: string(rc.Class), Retry: rc.Retry, Fallback: rc.Fallback}
		var pe *provider.Error
		switch {
		case errors.Is(rc.Err, errTotalTimeout):
			a.Class, a.Phase = string(router.ClassTimeout), string(provider.PhaseTotal)
		case errors.As(rc.Err, &pe) && pe.Kind == provider.KindTimeout:
			a.Phase = string(pe.Phase)
		}
		out[i] = a
	}
	return out
}

// endpointLabel maps a path to a bounded endpoint label.
func endpointLabel(path string) string {
	path = strings.TrimPrefix(path, "/v1")
	switch {
	case path == "/chat/completions" || path == "/messages" || path == "/responses":
		return metrics.EndpointChat
	case path == "/completions":
		return metrics.EndpointCompletions
	case path == "/embeddings":
		return metrics.EndpointEmbeddings
	case path == "/models" || strings.HasPrefix(path, "/models/"):
		return metrics.EndpointModels
	case strings.HasPrefix(path, "/admin/"):
		return metrics.EndpointAdmin
	}
	return metrics.EndpointOther
}
