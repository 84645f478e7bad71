package openaicompat

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/sse"
)

// This file is the Responses API pass-through: a channel configured with
// Options.Responses receives a client's Responses request as it is at
// {base}/responses, and its answer comes back untranslated; only the HTTP
// plumbing, the phase timeouts and the error classification of Do apply.

var _ provider.ResponsesAdapter = (*Adapter)(nil)

// ServesResponses reports whether the channel was configured as serving
// the Responses API. See provider.ResponsesAdapter.
func (a *Adapter) ServesResponses() bool { return a.responses }

// DoResponses sends a Responses API request as it is. See
// provider.ResponsesAdapter.
func (a *Adapter) DoResponses(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if !a.responses {
		return nil, fmt.Errorf("channel %s is not configured as serving the Responses API", a.channel)
	}
	r := *req
	r.Endpoint = provider.EndpointResponses
	return a.Do(ctx, &r)
}

// nextResponses returns the next Responses API event as it arrived. The
// first-token phase ends with the first output delta (or the terminal
// event); response.completed and response.incomplete are returned, then
// io.EOF; "error" and response.failed become a KindStreamError.
func (s *stream) nextResponses(ctx context.Context) (provider.Event, error) {
	for {
		s.timer.Arm()
		ev, err := s.reader.Next()
		if err != nil {
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 || sse.IsDone(ev.Data) {
			continue
		}
		kind := ev.Name
		var obj jsonpeek.Object
		parsed := jsonpeek.ParseInto(&obj, ev.Data) == nil
		if kind == "" && parsed {
			kind, _, _ = obj.String("type")
		}
		switch kind {
		case "error", "response.failed":
			s.timer.Disarm()
			return provider.Event{}, &provider.Error{Kind: provider.KindStreamError, Phase: s.timer.Phase(), Channel: s.channel,
				Message: responsesErrorMessage(obj, parsed)}
		case "response.completed", "response.incomplete":
			s.done.Store(true)
			s.timer.SetStarted()
			s.timer.Disarm()
		case "response.output_text.delta", "response.function_call_arguments.delta", "response.refusal.delta":
			s.timer.SetStarted()
		}
		return provider.Event{Name: ev.Name, Data: ev.Data}, nil
	}
}

// responsesErrorMessage is the message of an error event ({"message"}) or
// of a failed response ({"response":{"error":{"message"}}}).
func responsesErrorMessage(obj jsonpeek.Object, parsed bool) string {
	const fallback = "the upstream reported an error in the stream"
	if !parsed {
		return fallback
	}
	if msg, ok, _ := obj.String("message"); ok && msg != "" {
		return msg
	}
	raw, ok := obj.Raw("response")
	if !ok {
		return fallback
	}
	resp, err := jsonpeek.Parse(raw)
	if err != nil {
		return fallback
	}
	if raw, ok = resp.Raw("error"); !ok {
		return fallback
	}
	e, err := jsonpeek.Parse(raw)
	if err != nil {
		return fallback
	}
	if msg, ok, _ := e.String("message"); ok && msg != "" {
		return msg
	}
	return fallback
}
