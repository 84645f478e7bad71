// Package sse reads and writes Server-Sent Events (the text/event-stream
// format of the WHATWG HTML standard) on tollgate's streaming hot path.
//
// A [Reader] parses an upstream's event stream into [Event] values without
// allocating per event in the steady state. A [Writer] emits events to a
// client, one Write and one flush per event, so each event leaves the process
// as soon as it is produced.
//
// The package only knows the wire grammar. Deciding what an event means, for
// example that a "[DONE]" data payload ends an OpenAI stream (see [IsDone]),
// and treating a stream that ends without its end marker as truncated, is up
// to the caller.
package sse
