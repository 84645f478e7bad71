package server

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/store"
)

// Span names.
const (
	spanRequest = "tollgate.request"
	spanAttempt = "tollgate.attempt"
)

// startTrace starts the request's span, a child of the caller's trace if
// it sent a traceparent. It does nothing, and allocates nothing, when
// tracing is off.
func (s *Server) startTrace(r *http.Request, rec *record) {
	if s.opts.Tracer == nil {
		return
	}
	// A caller's W3C traceparent makes the span part of the caller's trace.
	ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	_, rec.span = s.opts.Tracer.Start(ctx, spanRequest,
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(rec.start))
}

// endTrace ends the request's span with the facts of its log row, and
// adds one child span per upstream attempt, timed as the relay measured
// it. Spans carry ids, names, statuses and classes, never a key or body.
func (s *Server) endTrace(rec *record, row *store.RequestLog) {
	span := rec.span
	if span == nil {
		return
	}
	rec.span = nil
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("request_id", row.RequestID),
			attribute.String("endpoint", rec.endpoint),
			attribute.String("model", row.ModelRequested),
			attribute.String("model_served", row.ModelServed),
			attribute.String("channel", row.Channel),
			attribute.Bool("stream", row.Stream),
			attribute.Int("status", row.Status),
			attribute.Int("attempts", row.Attempts),
		)
		if row.ErrorType != "" {
			span.SetAttributes(attribute.String("error_type", row.ErrorType), attribute.String("failed_phase", row.FailedPhase))
			span.SetStatus(codes.Error, row.ErrorType)
		}
		if row.Truncated {
			span.SetAttributes(attribute.Bool("truncated", true))
		}
		ctx := trace.ContextWithSpan(context.Background(), span)
		for _, a := range row.Timeline {
			s.traceAttempt(ctx, rec.start, a)
		}
	}
	span.End(trace.WithTimestamp(rec.start.Add(row.Duration)))
}

// traceAttempt records one upstream attempt as a child span of ctx's.
func (s *Server) traceAttempt(ctx context.Context, requestStart time.Time, a store.Attempt) {
	start := a.Started
	if start.IsZero() {
		start = requestStart
	}
	_, span := s.opts.Tracer.Start(ctx, spanAttempt, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.Int("attempt", a.N),
			attribute.String("channel", a.Channel),
			attribute.String("model", a.Model),
			attribute.Int("status", a.Status),
			attribute.String("class", a.Class),
			attribute.String("phase", a.Phase),
		))
	if a.RetryReason != "" {
		span.SetAttributes(attribute.String("retry_reason", a.RetryReason))
	}
	if a.Class != "" {
		span.SetStatus(codes.Error, a.Class)
	}
	span.End(trace.WithTimestamp(start.Add(a.Duration)))
}
