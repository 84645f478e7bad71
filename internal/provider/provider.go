// Package provider defines what tollgate needs from an upstream: an Adapter
// that performs one attempt of an OpenAI-format request against one
// channel, the Stream of events it returns for streaming requests, and the
// typed errors that say which phase of the attempt failed and whether the
// failure came from the upstream's answer or from the path to it.
//
// Providers know wire formats and HTTP clients and nothing of keys,
// limits, storage or the server.
package provider

import (
	"context"
	"net/http"
	"time"
)

// Endpoint names an OpenAI API operation, as the path below /v1.
type Endpoint string

// The endpoints tollgate relays.
const (
	EndpointChat        Endpoint = "chat/completions"
	EndpointCompletions Endpoint = "completions"
	EndpointEmbeddings  Endpoint = "embeddings"
	// EndpointMessages is Anthropic's Messages API, served only by
	// adapters that implement MessagesAdapter.
	EndpointMessages Endpoint = "messages"
	// EndpointResponses is OpenAI's Responses API, served only by adapters
	// that implement ResponsesAdapter and report ServesResponses.
	EndpointResponses Endpoint = "responses"
)

// Request is one upstream attempt in the OpenAI wire format.
type Request struct {
	// Endpoint is the operation to call.
	Endpoint Endpoint
	// Body is the JSON body to send, already patched for the upstream
	// (model name, stream options). The adapter must not modify it.
	Body []byte
	// Stream reports whether Body asks for a streamed answer.
	Stream bool
	// RequestID is tollgate's id for the client request; adapters may
	// forward it so upstream logs can be correlated.
	RequestID string
	// Timeouts bound this attempt's phases; zero fields use the adapter's
	// own defaults.
	Timeouts Timeouts
}

// Timeouts bound the phases of one attempt. Zero means "no bound" (or the
// adapter's default, where a Request leaves a field zero).
type Timeouts struct {
	// Connect bounds TCP connect plus TLS handshake.
	Connect time.Duration
	// ResponseHeader bounds the wait for the status line after sending.
	ResponseHeader time.Duration
	// FirstToken bounds the wait for the first content event of a stream.
	FirstToken time.Duration
	// Idle bounds the gap between stream events and the read of a body.
	Idle time.Duration
}

// Merge returns t with zero fields taken from d.
func (t Timeouts) Merge(d Timeouts) Timeouts {
	if t.Connect == 0 {
		t.Connect = d.Connect
	}
	if t.ResponseHeader == 0 {
		t.ResponseHeader = d.ResponseHeader
	}
	if t.FirstToken == 0 {
		t.FirstToken = d.FirstToken
	}
	if t.Idle == 0 {
		t.Idle = d.Idle
	}
	return t
}

// Response is a successful (2xx) upstream answer. Exactly one of Body and
// Stream is set. The caller must Close a Stream.
type Response struct {
	// Status is the upstream's HTTP status.
	Status int
	// Header holds the upstream's response headers.
	Header http.Header
	// Body is the whole answer of a non-stream request.
	Body []byte
	// Stream yields the events of a streamed answer.
	Stream Stream
	// UpstreamRequestID is the upstream's own request id, when it sent one.
	UpstreamRequestID string
}

// Event is one stream event: in the OpenAI format the JSON of a chunk; from
// a MessagesAdapter or ResponsesAdapter the event as the upstream sent it.
type Event struct {
	// Name is the SSE event name of a MessagesAdapter or ResponsesAdapter
	// event; empty for OpenAI chunks.
	Name string
	// Data is the event's data; it is only valid until the next call to Next.
	Data []byte
}

// Stream is a streamed upstream answer. It is not safe for concurrent use.
type Stream interface {
	// Next returns the next event. It returns io.EOF after the upstream's
	// end marker, and an *Error (Kind KindTruncated) when the stream ended
	// without one, so a cut stream is never mistaken for a complete one.
	Next(ctx context.Context) (Event, error)
	// Close releases the stream and its connection. It is safe to call
	// more than once.
	Close() error
}

// Adapter performs requests against one channel.
type Adapter interface {
	// Do sends one attempt. A non-2xx answer or a failure to get one is an
	// *Error describing the phase and cause.
	Do(ctx context.Context, req *Request) (*Response, error)
}

// MessagesAdapter is implemented by adapters whose upstream speaks
// Anthropic's Messages API, so a Messages request can be forwarded as it
// is instead of being translated twice.
type MessagesAdapter interface {
	// DoMessages sends one attempt whose Body is a Messages API request,
	// with the same phases, timeouts and errors as Adapter.Do. The
	// Response's Body is the upstream's answer unchanged; its Stream yields
	// the upstream's events unchanged, with their names, ending with
	// message_stop and then io.EOF. A stream that ends without
	// message_stop is KindTruncated, and an "error" event KindStreamError.
	DoMessages(ctx context.Context, req *Request) (*Response, error)
}

// ResponsesAdapter is implemented by adapters that can forward a request
// of OpenAI's Responses API as it is, to an upstream serving POST
// {base}/responses itself.
type ResponsesAdapter interface {
	// ServesResponses reports whether this channel's upstream serves the
	// Responses API; when false, DoResponses must not be called.
	ServesResponses() bool
	// DoResponses sends one attempt whose Body is a Responses API request,
	// with the same phases, timeouts and errors as Adapter.Do. The
	// Response's Body is the upstream's answer unchanged; its Stream yields
	// the upstream's events unchanged, with their names, ending with
	// response.completed or response.incomplete and then io.EOF. A stream
	// that ends without either is KindTruncated; an "error" or
	// response.failed event is KindStreamError.
	DoResponses(ctx context.Context, req *Request) (*Response, error)
}
