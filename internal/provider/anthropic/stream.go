package anthropic

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/sse"
)

// stream reads a Messages API event stream and yields OpenAI chunks, one
// Anthropic event at a time. It is not safe for concurrent use, except
// Close.
type stream struct {
	channel  string
	body     io.ReadCloser
	reader   *sse.Reader
	tr       StreamTranslator
	cancel   context.CancelCauseFunc
	timeouts provider.Timeouts
	timer    *time.Timer
	waitFrom time.Time
	limit    time.Duration
	started  bool // the first content event arrived
	done     bool // message_stop was translated (or, raw, returned)
	raw      bool // yield the upstream's events untranslated (passthrough.go)
	closing  sync.Once
}

var _ provider.Stream = (*stream)(nil)

func newStream(channel string, body io.ReadCloser, cancel context.CancelCauseFunc, t provider.Timeouts) *stream {
	return &stream{
		channel:  channel,
		body:     body,
		reader:   sse.NewReader(body, sse.ReaderOptions{}),
		cancel:   cancel,
		timeouts: t,
	}
}

// Next returns the next OpenAI chunk; see provider.Stream. It returns as
// soon as an Anthropic event that produces a chunk has arrived; events
// that produce none (ping, block stops) are read past. After message_stop
// it returns the usage chunk (when the upstream reported usage), then
// io.EOF; a stream that ends without message_stop is KindTruncated.
func (s *stream) Next(ctx context.Context) (provider.Event, error) {
	if s.done {
		s.disarm()
		return provider.Event{}, io.EOF
	}
	if s.raw {
		return s.nextRaw(ctx)
	}
	for {
		s.arm()
		ev, err := s.reader.Next()
		if err != nil {
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 {
			continue
		}
		chunk, done, err := s.tr.Event(ev.Name, ev.Data)
		if err != nil {
			s.disarm()
			return provider.Event{}, streamErrorFor(s.channel, s.phase(), err)
		}
		if done {
			s.done = true
			s.disarm()
			if chunk == nil {
				return provider.Event{}, io.EOF
			}
		}
		if chunk == nil {
			continue
		}
		if !s.started {
			// The first-token phase ends with the first content, not with
			// the role chunk sent at message_start.
			f := openai.ScanChunk(chunk)
			s.started = f.Content || f.Finished
		}
		return provider.Event{Data: chunk}, nil
	}
}

// arm starts the bound for the wait that is about to begin. Before the
// first content the bound runs from the stream's opening and is not
// restarted by pings or the role chunk; after it, each wait for an event
// gets the idle bound.
func (s *stream) arm() {
	if !s.started && s.timer != nil {
		return
	}
	s.limit = s.timeouts.Idle
	if !s.started && s.timeouts.FirstToken > 0 {
		s.limit = s.timeouts.FirstToken
	}
	s.waitFrom = time.Now()
	if s.limit <= 0 {
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(s.limit, func() { s.cancel(errIdleTimeout) })
		return
	}
	s.timer.Reset(s.limit)
}

func (s *stream) disarm() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

func (s *stream) phase() provider.Phase {
	if s.started {
		return provider.PhaseIdle
	}
	return provider.PhaseFirstToken
}

// fail classifies a read error.
func (s *stream) fail(ctx context.Context, err error) error {
	if s.timer != nil && !s.timer.Stop() && s.limit > 0 && time.Since(s.waitFrom) >= s.limit {
		return &provider.Error{Kind: provider.KindTimeout, Phase: s.phase(), Channel: s.channel,
			Limit: s.limit, Elapsed: time.Since(s.waitFrom), Err: err}
	}
	if ctx.Err() != nil {
		return &provider.Error{Kind: provider.KindCanceled, Phase: s.phase(), Channel: s.channel, Err: context.Cause(ctx)}
	}
	if errors.Is(err, io.EOF) {
		return &provider.Error{Kind: provider.KindTruncated, Phase: s.phase(), Channel: s.channel,
			Message: "the upstream closed the stream without the message_stop event"}
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return &provider.Error{Kind: provider.KindMalformed, Phase: s.phase(), Channel: s.channel,
			Message: "the upstream sent an event larger than the limit", Err: err}
	}
	return &provider.Error{Kind: provider.KindNetwork, Phase: s.phase(), Channel: s.channel,
		Message: "the connection broke in the middle of the stream", Err: err}
}

// Close releases the connection; safe to call more than once.
func (s *stream) Close() error {
	s.closing.Do(func() {
		s.disarm()
		s.cancel(nil)
		_ = s.body.Close()
	})
	return nil
}
