package openaicompat

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

// errIdleTimeout is the cancel cause when a stream or body goes silent.
var errIdleTimeout = errors.New("idle timeout")

// stream reads an OpenAI-format event stream. It is not safe for
// concurrent use, except Close.
type stream struct {
	channel  string
	body     io.ReadCloser
	reader   *sse.Reader
	cancel   context.CancelCauseFunc
	timeouts provider.Timeouts
	timer    *time.Timer
	waitFrom time.Time
	limit    time.Duration
	started  bool
	done     bool
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
		timeouts:  t,
	}
}

// Next returns the next event's data; see provider.Stream.
func (s *stream) Next(ctx context.Context) (provider.Event, error) {
	if s.done {
		return provider.Event{}, io.EOF
	}
	if s.responses {
		return s.nextResponses(ctx)
	}
	s.arm()
	for {
		ev, err := s.reader.Next()
		if err != nil {
			return provider.Event{}, s.fail(ctx, err)
		}
		if len(ev.Data) == 0 {
			continue
		}
		if sse.IsDone(ev.Data) {
			s.done = true
			s.disarm()
			return provider.Event{}, io.EOF
		}
		if ev.Name == "error" {
			s.disarm()
			return provider.Event{}, &provider.Error{Kind: provider.KindStreamError, Phase: s.phase(), Channel: s.channel,
				Message: streamErrorMessage(ev.Data)}
		}
		if !s.started {
			// The first-token phase ends with the first content, not with
			// role-only or empty chunks that some upstreams send at once.
			f := openai.ScanChunk(ev.Data)
			s.started = f.Content || f.Finished
		}
		return provider.Event{Data: ev.Data}, nil
	}
}

// arm starts the bound for the wait that is about to begin.
// Before the first content the bound runs from the stream's opening and
// is not restarted by empty chunks; after it, each wait gets the idle bound.
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
		msg := "the upstream closed the stream without the [DONE] end marker"
		if s.responses {
			msg = "the upstream closed the stream without a response.completed or response.incomplete event"
		}
		return &provider.Error{Kind: provider.KindTruncated, Phase: s.phase(), Channel: s.channel, Message: msg}
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return &provider.Error{Kind: provider.KindMalformed, Phase: s.phase(), Channel: s.channel,
			Message: "the upstream sent an event larger than the limit", Err: err}
	}
	return &provider.Error{Kind: provider.KindNetwork, Phase: s.phase(), Channel: s.channel,
		Message: "the connection broke in the middle of the stream", Err: err}
}

// Pending reports whether the next event has already been received.
func (s *stream) Pending() bool { return s.reader.Pending() }

// Close releases the connection; safe to call more than once.
func (s *stream) Close() error {
	s.closing.Do(func() {
		s.disarm()
		s.cancel(nil)
		_ = s.body.Close()
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
