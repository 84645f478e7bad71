// Package anthropic translates between clients that speak Anthropic's
// Messages API and tollgate's relay, which speaks OpenAI chat completions
// to every upstream: an inbound Messages request becomes an OpenAI chat
// request (request.go), and the OpenAI answer becomes a Messages answer,
// whole (response.go) or as a stream of Anthropic events (stream.go).
// Errors are shaped the Anthropic way by error.go.
//
// The wire types here are the inbound side's own; the upstream Anthropic
// adapter (internal/provider/anthropic) keeps its own, so the two evolve
// independently. The package imports only the standard library and
// tollgate's leaf packages.
package anthropic
