package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxBody bounds how much of a non-stream answer the doctor reads.
const maxBody = 8 << 20

// newExchange starts the record of an exchange for check.
func (env *Env) newExchange(check, method, path string, stream bool, body []byte) *Exchange {
	x := &Exchange{Check: check, Method: method, Path: path, Stream: stream, RequestBytes: len(body),
		StartedAt: env.now().UTC().Format(time.RFC3339Nano)}
	if body != nil {
		x.Model = env.opts.Model
	}
	env.Exchanges = append(env.Exchanges, x)
	return x
}

// fetch runs a non-stream exchange and returns the response body; on a
// transport failure or timeout it returns the error, also kept in x.
func (env *Env) fetch(ctx context.Context, x *Exchange, body []byte) ([]byte, error) {
	cl, err := env.client.send(ctx, x.Method, endpoint(env.base, x.Path), body, false)
	if cl == nil {
		x.Error = err.Error()
		return nil, err
	}
	var data []byte
	if err == nil {
		x.record(cl.resp)
		data, err = io.ReadAll(io.LimitReader(cl.body, maxBody))
		x.ResponseBytes = int64(len(data))
	}
	x.Timings = timingsMs(cl.finish())
	if err != nil {
		x.noteError(err)
		return nil, err
	}
	if x.Status >= 400 {
		x.recordError(data)
	}
	return data, nil
}

// noteError keeps a transport failure in x.
func (x *Exchange) noteError(err error) {
	x.Error = err.Error()
	var te *TimeoutError
	if errors.As(err, &te) {
		x.timeout = te
		x.TimeoutPhase = te.Phase
		if te.Phase == PhaseTotal {
			x.TimeoutPhase = te.During
		}
	}
}

// failure describes a failed exchange as a result, with the next step.
func (env *Env) failure(x *Exchange) Result {
	if x.timeout != nil {
		return fail("see the timeouts check below for the likely cause and remedy", "%s %s: %v", x.Method, x.Path, x.timeout)
	}
	if x.Status == 0 {
		return fail("the connection failed after connecting: a proxy or load balancer in the path may be closing it; retry, and compare with --proxy or a direct path",
			"%s %s failed: %s", x.Method, x.Path, x.Error)
	}
	if x.Error != "" {
		return fail("the answer broke off after the headers: the server crashed or a proxy closed the connection mid-body; retry, and send the request id to the operator if it persists",
			"%d, then the body broke off: %s%s", x.Status, x.Error, idSuffix(x))
	}
	return fail(statusAdvice(x, env.base.Path), "%d%s: %s%s", x.Status, typeSuffix(x), orNone(x.errorText()), idSuffix(x))
}

func typeSuffix(x *Exchange) string {
	if x.ErrorCode != "" {
		return " " + x.ErrorCode
	}
	if x.ErrorType != "" {
		return " " + x.ErrorType
	}
	return ""
}

func idSuffix(x *Exchange) string {
	if x.RequestID == "" || strings.Contains(x.ErrorMessage, x.RequestID) {
		return ""
	}
	return " [request id " + x.RequestID + "]"
}

func orNone(s string) string {
	if s == "" {
		return "(no error message)"
	}
	return s
}

// statusAdvice is the next step for an error status.
func statusAdvice(x *Exchange, basePath string) string {
	switch s := x.Status; {
	case s == http.StatusUnauthorized:
		return "the key is wrong or revoked: pass the whole key with --api-key (no quotes or spaces); if it was revoked or expired, ask for a new one (tollgate: `tollgate keys show`)"
	case s == http.StatusPaymentRequired:
		return "the account behind the key is out of balance or credit: top it up (tollgate: `tollgate credits add OWNER AMOUNT`)"
	case s == http.StatusForbidden:
		return "the key may not use this model or endpoint (model permissions, IP allow list, region): ask the operator to allow it"
	case s == http.StatusNotFound && x.ErrorCode == "model_not_found":
		return "use a model the models check lists, or ask the operator to add a route for it"
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
		if !strings.HasSuffix(strings.TrimRight(basePath, "/"), "/v1") {
			return "the path was not found: most OpenAI-compatible base URLs end in /v1; try --base-url with /v1 appended"
		}
		return "the path was not found: check the base URL (it should be the one an OpenAI SDK takes as base_url)"
	case s == http.StatusRequestEntityTooLarge:
		return "a proxy in the path limits the request size (nginx client_max_body_size): raise it"
	case s == http.StatusTooManyRequests:
		return "see the rate-limit check below"
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout || s == 524:
		return "a proxy or gateway gave up waiting for the upstream: see the timeouts check below; use stream:true for long answers"
	case s == http.StatusBadRequest:
		return "the endpoint rejected the request itself: read the message; check the model supports chat completions"
	case s == http.StatusBadGateway || s == http.StatusServiceUnavailable || s == 529:
		return "the upstream behind the endpoint is unreachable or overloaded: retry later; if it persists, send the request id to the operator"
	case s >= 500:
		return "the server failed: retry; if it persists, send the request id to the operator"
	}
	return "read the error message; send the request id to the operator if it is unclear"
}

// modelList is GET /models.
type modelList struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
}

func checkModels(ctx context.Context, env *Env) Result {
	x := env.newExchange("models", http.MethodGet, "/models", false, nil)
	body, err := env.fetch(ctx, x, nil)
	if err != nil {
		return env.failure(x)
	}
	switch x.Status {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return fail(statusAdvice(x, env.base.Path), "the key is wrong or revoked: %s%s", orNone(x.errorText()), idSuffix(x))
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return warn(statusAdvice(x, env.base.Path)+"; some servers list no models, so the next checks go on",
			"no model list at %s (%d); cannot tell whether %s exists", x.Path, x.Status, env.opts.Model)
	case http.StatusPaymentRequired, http.StatusForbidden, http.StatusTooManyRequests:
		return env.failure(x)
	default:
		r := env.failure(x)
		r.Status = StatusWarn
		return r
	}
	var list modelList
	if err := json.Unmarshal(body, &list); err != nil || list.Data == nil {
		return warn("the endpoint's GET /models does not return an OpenAI model list; clients that list models will fail",
			"authenticated, but the model list is not an OpenAI list object")
	}
	for _, m := range list.Data {
		env.Models = append(env.Models, m.ID)
	}
	if slices.Contains(env.Models, env.opts.Model) {
		return ok("authenticated; %s is among the %d models listed", env.opts.Model, len(env.Models))
	}
	near := closest(env.opts.Model, env.Models, 3)
	if len(near) == 0 {
		return fail("use one of the listed models with --model (see the evidence bundle), or ask the operator to add a route for it",
			"authenticated, but model %s is not among the %d models listed", env.opts.Model, len(env.Models))
	}
	return fail(fmt.Sprintf("did you mean %s? Pass it with --model, or ask the operator to add %s", strings.Join(near, ", "), env.opts.Model),
		"authenticated, but model %s is not listed; closest: %s", env.opts.Model, strings.Join(near, ", "))
}

// chatRequest is the body the chat checks send.
func (env *Env) chatRequest(stream bool) []byte {
	req := map[string]any{
		"model":    env.opts.Model,
		"messages": []map[string]string{{"role": "user", "content": env.opts.prompt()}},
	}
	if stream {
		req["stream"] = true
		req["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(req)
	return b
}

// chatResponse is the part of a chat completion the doctor reads.
type chatResponse struct {
	Object  string `json:"object"`
	Choices []struct {
		Message *struct {
			Content   *string         `json:"content"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage `json:"usage"`
}

func checkChat(ctx context.Context, env *Env) Result {
	body := env.chatRequest(false)
	x := env.newExchange("chat", http.MethodPost, "/chat/completions", false, body)
	data, err := env.fetch(ctx, x, body)
	if err != nil || x.Status != http.StatusOK {
		return env.failure(x)
	}
	var cr chatResponse
	if err := json.Unmarshal(data, &cr); err != nil || len(cr.Choices) == 0 || cr.Choices[0].Message == nil {
		x.Error = "the 200 answer is not a chat completion"
		return fail("the endpoint (or a proxy in front of it) does not answer in the OpenAI chat format; check the base URL",
			"200 in %v, but the body is not a chat completion with a message%s", msDur(x.Timings.Total), idSuffix(x))
	}
	x.Usage = cr.Usage
	took := msDur(x.Timings.Total)
	usage := "no usage reported"
	if cr.Usage != nil {
		usage = fmt.Sprintf("%d prompt + %d completion tokens", cr.Usage.PromptTokens, cr.Usage.CompletionTokens)
	}
	if cr.Usage == nil {
		return warn("the endpoint reports no token usage; cost and quota accounting will have to estimate",
			"200 in %v, finish_reason %s, %s%s", took, orNone(cr.Choices[0].FinishReason), usage, idSuffix(x))
	}
	return ok("200 in %v, finish_reason %s, %s%s", took, cr.Choices[0].FinishReason, usage, idSuffix(x))
}

// msDur turns milliseconds back into a duration rounded for reading:
// to 0.1ms below 100ms, to the millisecond above.
func msDur(f float64) time.Duration {
	d := time.Duration(f * float64(time.Millisecond))
	if d < 100*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
