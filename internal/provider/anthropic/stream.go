package anthropic

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/sse"
)

// stream reads a Messages API event stream and yields OpenAI chunks, one
// Anthropic event at a time. It is not safe for concurrent use, except
// Close.
type stream struct {
	channel string
	body    io.ReadCloser
	reader  *sse.Reader
	tr      StreamTranslator
	cancel  context.CancelCauseFunc
	timer   *provider.PhaseTimer // its first token is the first content event
	done    atomic.Bool          // message_stop was translated (or, raw, returned); atomic for Close
	raw     bool                 // yield the upstream's events untranslated (passthrough.go)
	closing sync.Once
}

var _ provider.Stream = (*stream)(nil)

func newStream(channel string, body io.ReadCloser, cancel context.CancelCauseFunc, t provider.Timeouts) *stream {
	return &stream{
		channel: channel,
		body:    body,
		reader:  sse.NewReader(body, sse.ReaderOptions{}),
		cancel:  cancel,
		timer:   provider.NewPhaseTimer(channel, t, cancel),
	}
}

// Next returns the next OpenAI chunk; see provider.Stream. It returns as
// soon as an Anthropic event that produces a chunk has arrived; events
// that produce none (ping, block stops) are read past. After message_stop
// it returns the usage chunk (when the upstream reported usage), then
// io.EOF; a stream that ends without message_stop is KindTruncated.
func (s *stream) Next(ctx context.Context) (provider.Event, error) {
	if s.done.Load() {
		s.timer.Disarm()
		return provider.Event{}, io.EOF
	}
	if s.raw {
		return s.nextRaw(ctx)
	}
	for {
		s.timer.Arm()
		ev, err := s.reader.Next()
		if err != nil {
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 {
			continue
		}
		chunk, done, err := s.tr.Event(ev.Name, ev.Data)
		if err != nil {
			s.timer.Disarm()
			return provider.Event{}, streamErrorFor(s.channel, s.timer.Phase(), err)
		}
		if done {
			s.done.Store(true)
			s.timer.Disarm()
			if chunk == nil {
				s.reader.Release() // nothing is read after message_stop
				return provider.Event{}, io.EOF
			}
		}
		if chunk == nil {
			continue
		}
		if !s.timer.Started() {
			// The first-token phase ends with the first content, not with
			// the role chunk sent at message_start.
			if f := openai.ScanChunk(chunk); f.Content || f.Finished {
				s.timer.SetStarted()
			}
		}
		return provider.Event{Data: chunk}, nil
	}
}

// fail classifies a read error.
func (s *stream) fail(ctx context.Context, err error) error {
	return s.timer.Fail(ctx, err, "the upstream closed the stream without the message_stop event")
}

// Close releases the connection, keeping it for another request if the
// stream ended with message_stop; safe to call more than once and from
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
