package provider

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tollgate/tollgate/internal/sse"
)

// PhaseTimer bounds the waits of a stream: from the stream's opening until
// its first content, the FirstToken bound (or Idle when FirstToken is
// zero), not restarted by events without content; after it, the Idle bound
// for each wait. When a bound runs out the timer cancels the stream's
// context, which makes the blocked read fail; Fail then names the phase.
// It is not safe for concurrent use.
type PhaseTimer struct {
	channel  string
	timeouts Timeouts
	cancel   context.CancelCauseFunc
	timer    *time.Timer
	waitFrom time.Time
	limit    time.Duration
	started  bool
}

// NewPhaseTimer returns a PhaseTimer for a stream of channel under
// timeouts t that cancels the stream's context through cancel. A zero
// bound means no bound.
func NewPhaseTimer(channel string, t Timeouts, cancel context.CancelCauseFunc) *PhaseTimer {
	return &PhaseTimer{channel: channel, timeouts: t, cancel: cancel}
}

// Started reports whether the first content arrived.
func (p *PhaseTimer) Started() bool { return p.started }

// SetStarted records that the first content arrived: the first-token
// phase is over and later waits get the idle bound.
func (p *PhaseTimer) SetStarted() { p.started = true }

// Phase is the phase of the current wait: PhaseFirstToken before the first
// content, PhaseIdle after it.
func (p *PhaseTimer) Phase() Phase {
	if p.started {
		return PhaseIdle
	}
	return PhaseFirstToken
}

// Arm starts the bound for the wait that is about to begin. Before the
// first content the bound runs from the first Arm and is not restarted.
func (p *PhaseTimer) Arm() {
	if !p.started && p.timer != nil {
		return
	}
	p.limit = p.timeouts.Idle
	if !p.started && p.timeouts.FirstToken > 0 {
		p.limit = p.timeouts.FirstToken
	}
	p.waitFrom = time.Now()
	if p.limit <= 0 {
		return
	}
	if p.timer == nil {
		p.timer = time.AfterFunc(p.limit, func() { p.cancel(errIdleTimeout) })
		return
	}
	p.timer.Reset(p.limit)
}

// Disarm stops the current bound.
func (p *PhaseTimer) Disarm() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// TimedOut reports whether the current wait's bound fired. It stops the
// bound.
func (p *PhaseTimer) TimedOut() bool {
	return p.timer != nil && !p.timer.Stop() && p.limit > 0 && time.Since(p.waitFrom) >= p.limit
}

// Fail classifies err, a failed read of the stream, as an *Error of the
// current phase: KindTimeout when the bound fired, KindCanceled when ctx
// ended, KindTruncated with the message truncated when the stream ended
// (io.EOF), KindMalformed for an event over the size limit, and otherwise
// KindNetwork.
func (p *PhaseTimer) Fail(ctx context.Context, err error, truncated string) *Error {
	if p.TimedOut() {
		return &Error{Kind: KindTimeout, Phase: p.Phase(), Channel: p.channel,
			Limit: p.limit, Elapsed: time.Since(p.waitFrom), Err: err}
	}
	if ctx.Err() != nil {
		return &Error{Kind: KindCanceled, Phase: p.Phase(), Channel: p.channel, Err: context.Cause(ctx)}
	}
	if errors.Is(err, io.EOF) {
		return &Error{Kind: KindTruncated, Phase: p.Phase(), Channel: p.channel, Message: truncated}
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return &Error{Kind: KindMalformed, Phase: p.Phase(), Channel: p.channel,
			Message: "the upstream sent an event larger than the limit", Err: err}
	}
	return &Error{Kind: KindNetwork, Phase: p.Phase(), Channel: p.channel,
		Message: "the connection broke in the middle of the stream", Err: err}
}
