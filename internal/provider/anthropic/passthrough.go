package anthropic

import (
	"context"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/provider"
)

// This file is the pass-through mode: a client of tollgate's own Messages
// API reaches an Anthropic channel with its request and the upstream's
// answer untranslated; only the HTTP plumbing, the phase timeouts and the
// error classification of the translating mode apply.

var _ provider.MessagesAdapter = (*Adapter)(nil)

// DoMessages sends a Messages API request as it is. See
// provider.MessagesAdapter.
func (a *Adapter) DoMessages(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	return a.send(ctx, req, req.Body, true)
}

// nextRaw returns the next upstream event as it arrived. The first-token
// phase ends with the first delta; message_stop is returned, then io.EOF;
// an "error" event becomes a KindStreamError.
func (s *stream) nextRaw(ctx context.Context) (provider.Event, error) {
	for {
		s.timer.Arm()
		ev, err := s.reader.Next()
		if err != nil {
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 {
			continue
		}
		kind := ev.Name
		if kind == "" {
			if obj, err := jsonpeek.Parse(ev.Data); err == nil {
				kind, _, _ = obj.String("type")
			}
		}
		switch kind {
		case "error":
			s.timer.Disarm()
			typ, msg := parseError(ev.Data)
			if typ == "" {
				typ = "api_error"
			}
			if msg == "" {
				msg = "the upstream reported an error in the stream"
			}
			return provider.Event{}, streamErrorFor(s.channel, s.timer.Phase(), &StreamError{Type: typ, Message: msg})
		case "message_stop":
			s.done.Store(true)
			s.timer.Disarm()
		case "content_block_delta", "message_delta":
			s.timer.SetStarted()
		}
		return provider.Event{Name: ev.Name, Data: ev.Data}, nil
	}
}

// Pending reports whether the next raw event has already arrived. A
// translating stream says false: the events waiting may yield no chunk.
func (s *stream) Pending() bool { return s.raw && s.reader.Pending() }
