// Package responses translates the OpenAI Responses API (POST /v1/responses)
// to chat completions and back, so that clients written for the Responses
// API can use any upstream tollgate serves.
//
// The translation is stateless: tollgate stores no responses, so requests
// that refer to earlier state (previous_response_id, conversation, stored
// prompts, background mode) are rejected with a [RequestError] naming the
// parameter, and "store" is accepted but ignored (every response reports
// store:false). Built-in tools (web search, file search, code interpreter,
// computer use, MCP and the like) cannot be run by a chat completions
// upstream and are rejected too. Reasoning items from earlier turns are
// dropped, since chat completions has no place for them.
//
// [TranslateRequest] turns a Responses request body into a chat completions
// body plus the [Meta] the answer needs; [TranslateBody] turns a
// chat.completion body into a response object; a [Stream], made per
// request, turns chat.completion.chunk events into Responses stream events.
// Passing requests through unchanged to upstreams that speak the Responses
// API natively is not done yet: every upstream gets chat completions.
package responses
