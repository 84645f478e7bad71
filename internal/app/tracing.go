package app

import (
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/config"
	"github.com/tollgate/tollgate/internal/traceexport"
)

// tracerName names tollgate's instrumentation scope.
const tracerName = "github.com/tollgate/tollgate/internal/server"

// buildTracing starts the trace provider when tracing is enabled and
// returns the server's tracer, or nil when it is off. Spans go in batches
// to the OTLP/HTTP collector of the configuration as OTLP JSON (the
// OTEL_EXPORTER_OTLP_* variables fill in the endpoint, headers, timeout
// and compression), or to exp when the caller supplied one (exported as
// each span ends, for tests).
func (a *App) buildTracing(cfg config.Tracing, version string, exp sdktrace.SpanExporter) (trace.Tracer, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", version),
	)
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.TraceIDRatioBased(cfg.SampleRatio)),
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithSyncer(exp))
	} else {
		eopts, err := traceexport.OptionsFromEnv(cfg.TracesURL(), os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("configuring the OTLP trace exporter: %w", err)
		}
		// The exporter connects lazily: a collector that is down costs
		// dropped spans, never a failed start.
		otlp, err := traceexport.New(eopts)
		if err != nil {
			return nil, fmt.Errorf("starting the OTLP trace exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(otlp))
	}
	a.traces = sdktrace.NewTracerProvider(opts...)
	return a.traces.Tracer(tracerName), nil
}
