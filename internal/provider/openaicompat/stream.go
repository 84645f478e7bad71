package openaicompat

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/sse"
)

// stream reads an OpenAI-format event stream. It is not safe for
// concurrent use, except Close.
type stream struct {
	channel string
	body    io.ReadCloser
	reader  *sse.Reader
	cancel  context.CancelCauseFunc
	timer   *provider.PhaseTimer
	// done: the end marker was read; atomic for Close, which may run on
	// another goroutine.
	done atomic.Bool
	// responses: the stream is a Responses API stream, passed on as it is
	// (see responses.go).
	responses bool
	closing   sync.Once
}

var _ provider.Stream = (*stream)(nil)

func newStream(channel string, body io.ReadCloser, cancel context.CancelCauseFunc, t provider.Timeouts, responses bool) *stream {
	return &stream{
		responses: responses,
		channel:   channel,
		body:      body,
		reader:    sse.NewReader(body, sse.ReaderOptions{}),
		cancel:    cancel,
		timer:     provider.NewPhaseTimer(channel, t, cancel),
	}
}

// Next returns the next event's data; see provider.Stream.
func (s *stream) Next(ctx context.Context) (provider.Event, error) {
	if s.done.Load() {
		return provider.Event{}, io.EOF
	}
	if s.responses {
		return s.nextResponses(ctx)
	}
	s.timer.Arm()
	for {
		ev, err := s.reader.Next()
		if err != nil {
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 {
			continue
		}
		if sse.IsDone(ev.Data) {
			s.done.Store(true)
			s.timer.Disarm()
			s.reader.Release() // nothing is read after the end marker
			return provider.Event{}, io.EOF
		}
		if ev.Name == "error" {
			s.timer.Disarm()
			return provider.Event{}, &provider.Error{Kind: provider.KindStreamError, Phase: s.timer.Phase(), Channel: s.channel,
				Message: streamErrorMessage(ev.Data)}
		}
		if !s.timer.Started() {
			// The first-token phase ends with the first content, not with
			// role-only or empty chunks that some upstreams send at once.
			if f := openai.ScanChunk(ev.Data); f.Content || f.Finished {
				s.timer.SetStarted()
			}
		}
		return provider.Event{Data: ev.Data}, nil
	}
}

// fail classifies a read error.
func (s *stream) fail(ctx context.Context, err error) error {
	msg := "the upstream closed the stream without the [DONE] end marker"
	if s.responses {
		msg = "the upstream closed the stream without a response.completed or response.incomplete event"
	}
	return s.timer.Fail(ctx, err, msg)
}

// Pending reports whether the next event has already been received.
func (s *stream) Pending() bool { return s.reader.Pending() }

// Close releases the connection, keeping it for another request if the
// stream ended with its end marker; safe to call more than once and from
// any goroutine.
func (s *stream) Close() error {
	s.closing.Do(func() {
		s.timer.Disarm()
		if s.done.Load() {
			provider.DrainBody(s.body, s.cancel)
		}
		_ = s.body.Close()
		s.cancel(nil)
	})
	return nil
}

func streamErrorMessage(data []byte) string {
	_, _, msg := parseErrorBody(data)
	if msg == "" {
		return "the upstream reported an error in the stream"
	}
	return msg
}
