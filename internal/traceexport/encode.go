package traceexport

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/jsonpeek"
)

// The encoding follows the protobuf JSON mapping of the OTLP
// ExportTraceServiceRequest with the OTLP deviations: lowerCamelCase keys,
// enums as integers, trace and span ids as hex strings. 64-bit integers
// (fixed64 times, int64 values) are decimal strings; 32-bit ones (counts,
// flags, enums) are numbers. Fields holding their default value are
// left out, which the mapping allows.

// OTLP span status codes (opentelemetry.proto.trace.v1.Status.StatusCode).
// They differ from go.opentelemetry.io/otel/codes, where Error is 1 and Ok
// is 2.
const (
	statusUnset = 0
	statusOK    = 1
	statusError = 2
)

// Span and link flags (opentelemetry.proto.trace.v1.SpanFlags): the low 8
// bits are the W3C trace flags; bit 8 says whether bit 9 is known, bit 9
// says the parent (for a span) or the linked span (for a link) is remote.
const (
	flagsTraceMask   = 0xff
	flagsHasIsRemote = 0x100
	flagsIsRemote    = 0x200
)

// maxSpanKind is SPAN_KIND_CONSUMER, the last OTLP span kind. OTLP's
// kinds 0 to 5 (unspecified, internal, server, client, producer,
// consumer) have the numbers of trace.SpanKind.
const maxSpanKind = 5

// resourceGroup is the spans of one resource, by scope, in arrival order.
type resourceGroup struct {
	res    *resource.Resource
	key    attribute.Distinct
	scopes []scopeGroup
}

// scopeGroup is the spans of one instrumentation scope, in arrival order.
type scopeGroup struct {
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

// group sorts spans by resource, then by instrumentation scope, keeping
// the order in which each resource, scope and span first appears. A batch
// usually holds one resource and a scope or two, so linear scans beat maps.
func group(spans []sdktrace.ReadOnlySpan) []resourceGroup {
	var groups []resourceGroup
	for _, s := range spans {
		res := s.Resource()
		ri := -1
		for i := range groups {
			g := &groups[i]
			if g.res == res || (g.key == res.Equivalent() && g.res.SchemaURL() == res.SchemaURL()) {
				ri = i
				break
			}
		}
		if ri < 0 {
			groups = append(groups, resourceGroup{res: res, key: res.Equivalent()})
			ri = len(groups) - 1
		}
		g := &groups[ri]
		scope := s.InstrumentationScope()
		si := -1
		for i := range g.scopes {
			if g.scopes[i].scope == scope {
				si = i
				break
			}
		}
		if si < 0 {
			g.scopes = append(g.scopes, scopeGroup{scope: scope})
			si = len(g.scopes) - 1
		}
		g.scopes[si].spans = append(g.scopes[si].spans, s)
	}
	return groups
}

// appendRequest appends the JSON ExportTraceServiceRequest for spans.
func appendRequest(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	b = append(b, `{"resourceSpans":[`...)
	for i, g := range group(spans) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendResourceSpans(b, g)
	}
	return append(b, "]}"...)
}

func appendResourceSpans(b []byte, g resourceGroup) []byte {
	b = append(b, `{"resource":{`...)
	if it := g.res.Iter(); it.Len() > 0 {
		b = append(b, `"attributes":[`...)
		for i := 0; it.Next(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKeyValue(b, it.Attribute())
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if u := g.res.SchemaURL(); u != "" {
		b = append(b, `,"schemaUrl":`...)
		b = jsonpeek.AppendString(b, u)
	}
	b = append(b, `,"scopeSpans":[`...)
	for i, sg := range g.scopes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendScopeSpans(b, sg)
	}
	return append(b, "]}"...)
}

func appendScopeSpans(b []byte, sg scopeGroup) []byte {
	sc := sg.scope
	b = append(b, `{"scope":{`...)
	b = append(b, `"name":`...)
	b = jsonpeek.AppendString(b, sc.Name)
	if sc.Version != "" {
		b = append(b, `,"version":`...)
		b = jsonpeek.AppendString(b, sc.Version)
	}
	if it := sc.Attributes.Iter(); it.Len() > 0 {
		b = append(b, `,"attributes":[`...)
		for i := 0; it.Next(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKeyValue(b, it.Attribute())
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if sc.SchemaURL != "" {
		b = append(b, `,"schemaUrl":`...)
		b = jsonpeek.AppendString(b, sc.SchemaURL)
	}
	b = append(b, `,"spans":[`...)
	for i, s := range sg.spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSpan(b, s)
	}
	return append(b, "]}"...)
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	b = appendIDs(b, sc)
	if p := s.Parent(); p.HasSpanID() {
		pid := p.SpanID()
		b = appendHex(append(b, `,"parentSpanId":`...), pid[:])
	}
	b = appendUint(append(b, `,"flags":`...), uint64(spanFlags(sc.TraceFlags(), s.Parent())))
	b = jsonpeek.AppendString(append(b, `,"name":`...), s.Name())
	if k := s.SpanKind(); k > 0 && k <= maxSpanKind {
		b = appendUint(append(b, `,"kind":`...), uint64(k))
	}
	b = appendTime(b, `,"startTimeUnixNano":`, s.StartTime())
	b = appendTime(b, `,"endTimeUnixNano":`, s.EndTime())
	b = appendAttributes(b, s.Attributes(), s.DroppedAttributes())
	if ev := s.Events(); len(ev) > 0 {
		b = append(b, `,"events":[`...)
		for i, e := range ev {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonpeek.AppendString(append(b, `{"name":`...), e.Name)
			b = appendTime(b, `,"timeUnixNano":`, e.Time)
			b = appendAttributes(b, e.Attributes, e.DroppedAttributeCount)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendCount(b, `,"droppedEventsCount":`, s.DroppedEvents())
	if ls := s.Links(); len(ls) > 0 {
		b = append(b, `,"links":[`...)
		for i, l := range ls {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendIDs(b, l.SpanContext)
			b = appendUint(append(b, `,"flags":`...), uint64(linkFlags(l.SpanContext)))
			b = appendAttributes(b, l.Attributes, l.DroppedAttributeCount)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendCount(b, `,"droppedLinksCount":`, s.DroppedLinks())
	b = appendStatus(b, s.Status())
	return append(b, '}')
}

// appendIDs opens an object with the traceId, spanId and traceState of
// sc, the fields a span and a link share.
func appendIDs(b []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendHex(append(b, `{"traceId":`...), tid[:])
	b = appendHex(append(b, `,"spanId":`...), sid[:])
	if ts := sc.TraceState().String(); ts != "" {
		b = jsonpeek.AppendString(append(b, `,"traceState":`...), ts)
	}
	return b
}

// spanFlags is the OTLP flags of a span: its trace flags and whether its
// parent is remote.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf)&flagsTraceMask | flagsHasIsRemote
	if parent.IsRemote() {
		f |= flagsIsRemote
	}
	return f
}

// linkFlags is the OTLP flags of a link: the linked span's trace flags
// and whether it is remote.
func linkFlags(sc trace.SpanContext) uint32 {
	return spanFlags(sc.TraceFlags(), sc)
}

// otlpStatusCode maps an OTel Go status code to OTLP's numbering.
func otlpStatusCode(c codes.Code) int {
	switch c {
	case codes.Ok:
		return statusOK
	case codes.Error:
		return statusError
	default:
		return statusUnset
	}
}

func appendStatus(b []byte, st sdktrace.Status) []byte {
	code := otlpStatusCode(st.Code)
	if code == statusUnset && st.Description == "" {
		return b
	}
	b = append(b, `,"status":{`...)
	sep := ""
	if st.Description != "" {
		b = jsonpeek.AppendString(append(b, `"message":`...), st.Description)
		sep = ","
	}
	if code != statusUnset {
		b = appendUint(append(append(b, sep...), `"code":`...), uint64(code))
	}
	return append(b, '}')
}

// appendAttributes appends the attributes and droppedAttributesCount
// fields, each only when non-empty. It always follows another field.
func appendAttributes(b []byte, attrs []attribute.KeyValue, dropped int) []byte {
	if len(attrs) > 0 {
		b = append(b, `,"attributes":[`...)
		for i, kv := range attrs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKeyValue(b, kv)
		}
		b = append(b, ']')
	}
	return appendCount(b, `,"droppedAttributesCount":`, dropped)
}

func appendCount(b []byte, field string, n int) []byte {
	if n <= 0 {
		return b
	}
	return appendUint(append(b, field...), uint64(min(n, math.MaxUint32)))
}

// appendTime appends field and t in Unix nanoseconds as a decimal string,
// or nothing for the zero time.
func appendTime(b []byte, field string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = append(b, field...)
	b = append(b, '"')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '"')
}

func appendKeyValue(b []byte, kv attribute.KeyValue) []byte {
	b = jsonpeek.AppendString(append(b, `{"key":`...), string(kv.Key))
	b = appendAnyValue(append(b, `,"value":`...), kv.Value)
	return append(b, '}')
}

// appendAnyValue appends v as an OTLP AnyValue. An empty value is {}.
func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.STRING:
		return append(jsonpeek.AppendString(append(b, `{"stringValue":`...), v.AsString()), '}')
	case attribute.BOOL:
		return append(strconv.AppendBool(append(b, `{"boolValue":`...), v.AsBool()), '}')
	case attribute.INT64:
		return append(appendInt64(append(b, `{"intValue":`...), v.AsInt64()), '}')
	case attribute.FLOAT64:
		return append(appendDouble(append(b, `{"doubleValue":`...), v.AsFloat64()), '}')
	case attribute.BYTESLICE:
		b = append(b, `{"bytesValue":"`...)
		return append(base64.StdEncoding.AppendEncode(b, v.AsByteSlice()), `"}`...)
	case attribute.STRINGSLICE:
		return appendArray(b, v.AsStringSlice(), func(b []byte, s string) []byte {
			return append(jsonpeek.AppendString(append(b, `{"stringValue":`...), s), '}')
		})
	case attribute.BOOLSLICE:
		return appendArray(b, v.AsBoolSlice(), func(b []byte, x bool) []byte {
			return append(strconv.AppendBool(append(b, `{"boolValue":`...), x), '}')
		})
	case attribute.INT64SLICE:
		return appendArray(b, v.AsInt64Slice(), func(b []byte, x int64) []byte {
			return append(appendInt64(append(b, `{"intValue":`...), x), '}')
		})
	case attribute.FLOAT64SLICE:
		return appendArray(b, v.AsFloat64Slice(), func(b []byte, x float64) []byte {
			return append(appendDouble(append(b, `{"doubleValue":`...), x), '}')
		})
	case attribute.SLICE:
		return appendArray(b, v.AsSlice(), appendAnyValue)
	case attribute.MAP:
		b = append(b, `{"kvlistValue":{"values":[`...)
		for i, kv := range v.AsMap() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKeyValue(b, kv)
		}
		return append(b, "]}}"...)
	default: // attribute.EMPTY and types this encoder does not know
		return append(b, "{}"...)
	}
}

// appendArray appends {"arrayValue":{"values":[...]}} with each element
// appended by elem.
func appendArray[T any](b []byte, xs []T, elem func([]byte, T) []byte) []byte {
	b = append(b, `{"arrayValue":{"values":[`...)
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, x)
	}
	return append(b, "]}}"...)
}

func appendUint(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) }

// appendInt64 appends n as a quoted decimal string, as the protobuf JSON
// mapping writes 64-bit integers.
func appendInt64(b []byte, n int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, n, 10)
	return append(b, '"')
}

// appendDouble appends f as a JSON number, or as the string "NaN",
// "Infinity" or "-Infinity", which JSON numbers cannot express.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendHex appends id as a quoted lowercase hex string.
func appendHex(b []byte, id []byte) []byte {
	b = append(b, '"')
	b = hex.AppendEncode(b, id)
	return append(b, '"')
}
