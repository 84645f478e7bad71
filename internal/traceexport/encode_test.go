package traceexport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/jsonpeek"
)

// seqIDs gives spans the ids 0000000000000001, 0000000000000002, ...
type seqIDs struct{ n atomic.Uint64 }

func (g *seqIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	return trace.TraceID{0xee, 15: 0xee}, g.NewSpanID(ctx, trace.TraceID{})
}

func (g *seqIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var id trace.SpanID
	binary.BigEndian.PutUint64(id[:], g.n.Add(1))
	return id
}

const schema = "https://opentelemetry.io/schemas/1.26.0"

// wantRequestSpan is the body exported for the request span of
// TestExportJSONShape. Every field is checked, so a field added or
// misspelt fails the test.
const wantRequestSpan = `{"resourceSpans": [{
  "resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "tollgate-test"}},
    {"key": "service.version", "value": {"stringValue": "t1"}}
  ]},
  "schemaUrl": "` + schema + `",
  "scopeSpans": [{
    "scope": {"name": "github.com/tollgate/test", "version": "1.2.3",
      "attributes": [{"key": "scope.attr", "value": {"stringValue": "x"}}]},
    "schemaUrl": "` + schema + `",
    "spans": [{
      "traceId": "0102030405060708090a0b0c0d0e0f10",
      "spanId": "0000000000000001",
      "traceState": "vendor=x",
      "parentSpanId": "a1a2a3a4a5a6a7a8",
      "flags": 769,
      "name": "tollgate.request",
      "kind": 2,
      "startTimeUnixNano": "1700000000123456789",
      "endTimeUnixNano": "1700000001000000000",
      "attributes": [
        {"key": "model", "value": {"stringValue": "gpt \"4\"\n\u00e9"}},
        {"key": "stream", "value": {"boolValue": true}},
        {"key": "status", "value": {"intValue": "503"}},
        {"key": "big", "value": {"intValue": "9007199254740993"}},
        {"key": "ratio", "value": {"doubleValue": 0.25}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "channels", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}},
        {"key": "codes", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "-2"}]}}},
        {"key": "flags", "value": {"arrayValue": {"values": [{"boolValue": true}, {"boolValue": false}]}}},
        {"key": "weights", "value": {"arrayValue": {"values": [{"doubleValue": 1.5}, {"doubleValue": "Infinity"}]}}},
        {"key": "raw", "value": {"bytesValue": "AAEC/w=="}},
        {"key": "mixed", "value": {"arrayValue": {"values": [{"stringValue": "s"}, {"intValue": "7"}]}}},
        {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}}
      ],
      "events": [{"name": "retry", "timeUnixNano": "1700000000500000000",
        "attributes": [{"key": "attempt", "value": {"intValue": "2"}}]}],
      "links": [{"traceId": "1112131415161718191a1b1c1d1e1f20", "spanId": "b1b2b3b4b5b6b7b8",
        "flags": 768, "attributes": [{"key": "link.kind", "value": {"stringValue": "follows"}}]}],
      "status": {"code": 2, "message": "boom"}
    }]
  }]
}]}`

// wantAttemptSpan is the body exported for the child span: a local
// parent, status OK, no attributes.
const wantAttemptSpan = `{"resourceSpans": [{
  "resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "tollgate-test"}},
    {"key": "service.version", "value": {"stringValue": "t1"}}
  ]},
  "schemaUrl": "` + schema + `",
  "scopeSpans": [{
    "scope": {"name": "github.com/tollgate/test", "version": "1.2.3",
      "attributes": [{"key": "scope.attr", "value": {"stringValue": "x"}}]},
    "schemaUrl": "` + schema + `",
    "spans": [{
      "traceId": "0102030405060708090a0b0c0d0e0f10",
      "spanId": "0000000000000002",
      "traceState": "vendor=x",
      "parentSpanId": "0000000000000001",
      "flags": 257,
      "name": "tollgate.attempt",
      "kind": 3,
      "startTimeUnixNano": "1700000000200000000",
      "endTimeUnixNano": "1700000000400000000",
      "status": {"code": 1}
    }]
  }]
}]}`

// TestExportJSONShape exports two spans made by the real SDK through a
// syncer, so one POST each, and compares the decoded bodies with the
// OTLP JSON expected field for field: hex ids, remote and local parents,
// flags, kinds, both status mappings, every attribute type, events,
// links, resource and scope.
func TestExportJSONShape(t *testing.T) {
	t.Parallel()
	c := newCollector(t, nil)
	exp := newTestExporter(t, Options{URL: c.url()})
	res := resource.NewWithAttributes(schema,
		attribute.String("service.version", "t1"), attribute.String("service.name", "tollgate-test"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res), sdktrace.WithIDGenerator(&seqIDs{}))
	tracer := tp.Tracer("github.com/tollgate/test", trace.WithInstrumentationVersion("1.2.3"),
		trace.WithSchemaURL(schema), trace.WithInstrumentationAttributes(attribute.String("scope.attr", "x")))

	ts, err := trace.ParseTraceState("vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
		Remote:     true,
	})
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20},
		SpanID:  trace.SpanID{0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8},
		Remote:  true,
	})
	t0 := time.Unix(1700000000, 123456789)
	ctx, req := tracer.Start(trace.ContextWithRemoteSpanContext(t.Context(), parent), "tollgate.request",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t0),
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("link.kind", "follows")}}),
		trace.WithAttributes(
			attribute.String("model", "gpt \"4\"\né"),
			attribute.Bool("stream", true),
			attribute.Int("status", 503),
			attribute.Int64("big", 1<<53+1),
			attribute.Float64("ratio", 0.25),
			attribute.Float64("nan", math.NaN()),
			attribute.Float64("inf", math.Inf(-1)),
			attribute.StringSlice("channels", []string{"a", "b"}),
			attribute.Int64Slice("codes", []int64{1, -2}),
			attribute.BoolSlice("flags", []bool{true, false}),
			attribute.Float64Slice("weights", []float64{1.5, math.Inf(1)}),
			attribute.ByteSlice("raw", []byte{0, 1, 2, 0xff}),
			attribute.Slice("mixed", attribute.StringValue("s"), attribute.IntValue(7)),
			attribute.Map("map", attribute.Bool("k", false)),
		))
	_, att := tracer.Start(ctx, "tollgate.attempt", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(time.Unix(1700000000, 2e8)))
	att.SetStatus(codes.Ok, "")
	att.End(trace.WithTimestamp(time.Unix(1700000000, 4e8)))
	req.AddEvent("retry", trace.WithTimestamp(time.Unix(1700000000, 5e8)),
		trace.WithAttributes(attribute.Int("attempt", 2)))
	req.SetStatus(codes.Error, "boom")
	req.End(trace.WithTimestamp(time.Unix(1700000001, 0)))
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutting the provider down: %v", err)
	}

	reqs := c.requests()
	if len(reqs) != 2 {
		t.Fatalf("collector got %d requests, want 2 (one per span)", len(reqs))
	}
	for i, want := range []string{wantAttemptSpan, wantRequestSpan} {
		got := decode(t, reqs[i].body)
		if w := decode(t, []byte(want)); !reflect.DeepEqual(got, w) {
			t.Errorf("request %d:\ngot  %s\nwant %s", i+1, pretty(got), pretty(w))
		}
	}
}

// TestExportGrouping exports one batch of spans from two resources and
// two scopes: spans are grouped by resource, then scope, in order of
// first appearance, with an equal resource at another address counted as
// the same. It also checks the dropped counts and the fields left out
// when they hold defaults (no parent, unset status, unspecified kind).
func TestExportGrouping(t *testing.T) {
	t.Parallel()
	c := newCollector(t, nil)
	exp := newTestExporter(t, Options{URL: c.url()})
	res1 := resource.NewSchemaless(attribute.String("service.name", "one"))
	res1again := resource.NewSchemaless(attribute.String("service.name", "one"))
	res2 := resource.NewSchemaless(attribute.String("service.name", "two"))
	x := instrumentation.Scope{Name: "x"}
	y := instrumentation.Scope{Name: "y", Version: "2"}
	sc := func(b byte) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{15: b}, SpanID: trace.SpanID{7: b}})
	}
	stub := func(name string, id byte, res *resource.Resource, scope instrumentation.Scope) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{Name: name, SpanContext: sc(id), Resource: res, InstrumentationScope: scope,
			StartTime: time.Unix(0, 1), EndTime: time.Unix(0, 2)}.Snapshot()
	}
	dropped := tracetest.SpanStub{
		Name: "E", SpanContext: sc(5), Resource: res1again, InstrumentationScope: x,
		DroppedAttributes: 3, DroppedEvents: 1, DroppedLinks: 2,
		Events: []sdktrace.Event{{Name: "ev", DroppedAttributeCount: 1}},
		Links:  []sdktrace.Link{{SpanContext: sc(9), DroppedAttributeCount: 4}},
	}.Snapshot()
	spans := []sdktrace.ReadOnlySpan{
		stub("A", 1, res1, x), stub("B", 2, res2, x), stub("C", 3, res1, y), stub("D", 4, res1, x), dropped,
	}
	if err := exp.ExportSpans(t.Context(), spans); err != nil {
		t.Fatalf("ExportSpans: %v", err)
	}
	reqs := c.requests()
	if len(reqs) != 1 {
		t.Fatalf("collector got %d requests, want 1", len(reqs))
	}
	span := func(name string, id string) string {
		return `{"traceId": "000000000000000000000000000000` + id + `", "spanId": "00000000000000` + id +
			`", "flags": 256, "name": "` + name + `", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}`
	}
	want := `{"resourceSpans": [
	  {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "one"}}]},
	   "scopeSpans": [
	     {"scope": {"name": "x"}, "spans": [` + span("A", "01") + `,` + span("D", "04") + `,
	       {"traceId": "00000000000000000000000000000005", "spanId": "0000000000000005", "flags": 256, "name": "E",
	        "droppedAttributesCount": 3,
	        "events": [{"name": "ev", "droppedAttributesCount": 1}], "droppedEventsCount": 1,
	        "links": [{"traceId": "00000000000000000000000000000009", "spanId": "0000000000000009", "flags": 256,
	                   "droppedAttributesCount": 4}],
	        "droppedLinksCount": 2}]},
	     {"scope": {"name": "y", "version": "2"}, "spans": [` + span("C", "03") + `]}]},
	  {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "two"}}]},
	   "scopeSpans": [{"scope": {"name": "x"}, "spans": [` + span("B", "02") + `]}]}
	]}`
	got := decode(t, reqs[0].body)
	if w := decode(t, []byte(want)); !reflect.DeepEqual(got, w) {
		t.Errorf("got  %s\nwant %s", pretty(got), pretty(w))
	}
}

// TestStatusCodeMapping pins the renumbering between OTel Go's codes and
// OTLP's.
func TestStatusCodeMapping(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code codes.Code
		want int
	}{
		{codes.Unset, 0},
		{codes.Ok, 1},
		{codes.Error, 2},
		{codes.Code(42), 0},
	} {
		t.Run(tt.code.String(), func(t *testing.T) {
			if got := otlpStatusCode(tt.code); got != tt.want {
				t.Errorf("otlpStatusCode(%v) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

// TestAppendDouble checks that every float64 encodes to JSON that
// decodes back to it, and that the values JSON numbers cannot hold
// become the proto3 JSON strings.
func TestAppendDouble(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		f    float64
		want string // "" means: a number that decodes back to f
	}{
		{"zero", 0, ""},
		{"negative zero", math.Copysign(0, -1), ""},
		{"fraction", 0.1, ""},
		{"large", 1e21, ""},
		{"tiny", 1e-7, ""},
		{"max", math.MaxFloat64, ""},
		{"smallest", math.SmallestNonzeroFloat64, ""},
		{"negative", -123.456, ""},
		{"NaN", math.NaN(), `"NaN"`},
		{"+Inf", math.Inf(1), `"Infinity"`},
		{"-Inf", math.Inf(-1), `"-Infinity"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendDouble(nil, tt.f))
			if tt.want != "" {
				if got != tt.want {
					t.Errorf("appendDouble(%v) = %s, want %s", tt.f, got, tt.want)
				}
				return
			}
			var back float64
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != tt.f || math.Signbit(back) != math.Signbit(tt.f) {
				t.Errorf("appendDouble(%v) = %s, decodes to %v (%v)", tt.f, got, back, err)
			}
		})
	}
}

// FuzzAppendString checks that jsonpeek.AppendString, as the exporter uses it, always makes valid JSON that
// decodes to what encoding/json would have encoded.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "cut \xe6\x97", "<script>&",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := jsonpeek.AppendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("AppendString(%q) = %s, not valid JSON", s, got)
		}
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Errorf("AppendString(%q) decodes to %q, want %q", s, back, want)
		}
		if strings.ContainsAny(string(got), "\n\r\u2028\u2029") {
			t.Errorf("AppendString(%q) = %s keeps a line break unescaped", s, got)
		}
	})
}
