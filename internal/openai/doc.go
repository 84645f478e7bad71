// Package openai holds the OpenAI wire types tollgate accepts, emits and
// translates: chat completions (and their stream chunks), legacy
// completions, embeddings, the model list and the error envelope.
//
// The types mirror the public wire format closely enough for tollgate to
// produce and inspect it; they are not a full client SDK. The package
// imports only the standard library.
package openai
