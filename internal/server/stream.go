package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	anthropicdialect "github.com/tollgate/tollgate/internal/dialect/anthropic"
	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/sse"
)

// Trailers of a stream: how it was finally served, known only at its end.
const (
	trailerAttempts = "X-Tollgate-Final-Attempts"
	trailerChannel  = "X-Tollgate-Final-Channel"
	trailerModel    = "X-Tollgate-Final-Model"
	trailerFallback = "X-Tollgate-Final-Fallback"
)

// errClientWrite marks a failed write to the client: it left.
var errClientWrite = errors.New("writing to the client failed")

// streamRelay forwards one client stream across upstream attempts. Events
// are flushed one by one. Chunks before the first content (role-only,
// empty) are held back, so an attempt that fails before content is
// retried without the client seeing anything of it; and a ": keep-alive"
// comment goes out whenever nothing was sent for a while.
type streamRelay struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	rr  *relayRequest
	rec *record

	mu        sync.Mutex // guards writes: the keep-alive timer writes too
	sw        *sse.Writer
	committed bool // the 200 and the SSE headers went out
	stopped   bool // no more keep-alives
	keepAlive *time.Timer
	interval  time.Duration
	lastSent  time.Time // when an event last went out (keep-alive timing)

	held      [][]byte         // pre-content chunks of the current attempt
	unflushed bool             // events were written but not flushed yet
	obj       *jsonpeek.Object // reused to parse each chunk; from chunkObjects
	patched   []byte           // reused for chunks with fields removed
	content   bool             // content reached the client
	finished  bool             // the current attempt sent a finish_reason
	script    transcript
	origErr   error // the first failure after content was sent
	cont      *continuation
	served    provider.Stream // the stream of the attempt that succeeded
	// tr translates chunks for a client of the Anthropic dialect; nil
	// for OpenAI clients (see stream_dialect.go).
	tr *anthropicdialect.StreamTranslator
	// raw is the state of a Messages stream passed through as it is
	// (messages_passthrough.go).
	raw rawState
}

// chunkObjects are the stream relays' chunk parsers, reused across
// requests so that parsing a stream's chunks does not allocate.
var chunkObjects = sync.Pool{New: func() any { return new(jsonpeek.Object) }}

// relayStream serves a streaming request through the attempts its plan
// allows. A failure before content is retried transparently; a failure
// after content is continued when the channel allows it, else reported
// in-band with no [DONE].
func (s *Server) relayStream(ctx context.Context, w http.ResponseWriter, r *http.Request, rr *relayRequest) {
	sr := &streamRelay{s: s, w: w, r: r, rr: rr, rec: recordFrom(r.Context()), interval: s.opts.KeepAlive}
	sr.tr = newStreamTranslator(sr.rec, rr)
	sr.script.limit = s.continuationLimit(rr)
	sr.startKeepAlive()
	defer sr.stopKeepAlive()
	defer sr.script.release()
	sr.obj = chunkObjects.Get().(*jsonpeek.Object)
	defer func() {
		sr.obj.Reset()
		chunkObjects.Put(sr.obj)
	}()
	for {
		if sr.content && !sr.canContinue() {
			sr.fail(ctx, sr.origErr)
			return
		}
		a, err := rr.plan.Next(ctx)
		if err != nil {
			sr.fail(ctx, err)
			return
		}
		sr.rec.row.Channel = a.Target.Channel
		err = sr.attempt(ctx, a)
		if err == nil {
			sr.complete(a)
			_ = sr.served.Close()
			return
		}
		if errors.Is(err, errClientWrite) {
			sr.clientGone(err)
			return
		}
		if sr.content && sr.origErr == nil {
			sr.origErr = err
		}
	}
}

// attempt runs one upstream attempt and forwards its events.
func (sr *streamRelay) attempt(ctx context.Context, a router.Attempt) error {
	req := sr.rr.requestFor(a, sr.rec.row.RequestID)
	if sr.content {
		c, err := sr.continueWith(a)
		if err != nil {
			sr.rr.plan.Done(a, err)
			return err
		}
		sr.cont, req = c, c.request
	}
	at := sr.s.startAttempt(sr.rec, a.N)
	resp, err := sr.rr.send(ctx, a, req)
	if err != nil && sr.cont != nil && sr.cont.prefill && router.Classify(err) == router.ClassClientError {
		// The channel does not take the prefill: regenerate and splice.
		sr.s.ended(at)
		sr.rr.plan.Done(a, err)
		var ok bool
		if a, ok = sr.rr.plan.Again(a); !ok {
			return sr.origErr
		}
		sr.cont = sr.regenerate(a)
		at = sr.s.startAttempt(sr.rec, a.N)
		resp, err = a.Target.Adapter.Do(ctx, sr.cont.request)
	}
	defer sr.s.ended(at)
	if err != nil {
		sr.rr.plan.Done(a, err)
		return err
	}
	sr.s.answered(at, resp.Status)
	sr.rec.upstreamID = resp.UpstreamRequestID
	err = sr.forward(ctx, a, resp.Stream)
	if err == nil {
		// Closed once the client has the end: closing reads what is left
		// of the upstream's body, to keep its connection.
		sr.served = resp.Stream
	} else {
		_ = resp.Stream.Close()
	}
	if errors.Is(err, errClientWrite) {
		sr.rr.plan.Done(a, &provider.Error{Kind: provider.KindCanceled, Channel: a.Target.Channel, Err: err})
		return err
	}
	sr.rr.plan.Done(a, err)
	return err
}

// forward copies one upstream stream to the client until it ends.
func (sr *streamRelay) forward(ctx context.Context, a router.Attempt, st provider.Stream) error {
	if sr.rr.passthrough() {
		return sr.forwardRaw(ctx, a, st)
	}
	sr.held, sr.finished = sr.held[:0], false
	pending, _ := st.(pendingStream)
	for {
		// Events that arrived together go out with one flush; as soon as
		// nothing more is waiting, what was written is flushed.
		if sr.unflushed && (pending == nil || !pending.Pending()) {
			if err := sr.flush(); err != nil {
				return err
			}
		}
		ev, err := st.Next(ctx)
		if err != nil {
			var pe *provider.Error
			if errors.Is(err, io.EOF) || (errors.As(err, &pe) && pe.Kind == provider.KindTruncated && sr.finished) {
				return nil // complete; a missing [DONE] after the finish is supplied
			}
			return err
		}
		data, keep, err := sr.filter(a, ev.Data)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if sr.cont != nil {
			if data, keep, err = sr.cont.adapt(data); err != nil || !keep {
				if err != nil {
					return err
				}
				continue
			}
		}
		if !sr.content {
			// Before the first content, chunks wait, so an attempt that
			// fails now is retried without the client seeing any of it.
			if f := openai.ScanChunk(data); !f.Content && !f.Finished {
				sr.held = append(sr.held, append([]byte(nil), data...))
				continue
			}
		}
		if err := sr.send(a, data); err != nil {
			return err
		}
	}
}

// filter checks one chunk, captures usage and the finish reason, and
// strips the usage tollgate asked for on the client's behalf. A malformed
// chunk is skipped and logged: garbage never reaches the client.
func (sr *streamRelay) filter(a router.Attempt, data []byte) ([]byte, bool, error) {
	obj := sr.obj
	if err := jsonpeek.ParseInto(obj, data); err != nil {
		sr.s.log.Warn("skipping malformed upstream stream event", "request_id", sr.rec.row.RequestID, "key_id", sr.rec.row.KeyID,
			"model", sr.rec.row.ModelRequested, "channel", a.Target.Channel, "attempt", a.N, "error", err)
		return nil, false, nil
	}
	if raw, ok := obj.Raw("error"); ok && !isNull(raw) {
		return nil, false, &provider.Error{Kind: provider.KindStreamError, Phase: provider.PhaseIdle, Channel: a.Target.Channel,
			Message: streamErrorMessage(raw)}
	}
	if sr.rec.row.ModelServed == "" {
		if served, ok, _ := obj.String("model"); ok {
			sr.rec.row.ModelServed = clip(served, 200)
		}
	}
	if !sr.finished {
		if reason := openai.FinishReason(data); reason != "" {
			sr.finished = true
			sr.rec.row.FinishReason = reason
		}
	}
	hadUsage := captureUsage(sr.rec, *obj)
	if hadUsage && sr.cont != nil {
		sr.cont.combineUsage(sr.rec)
	}
	if sr.rr.wantUsage {
		if hadUsage && sr.cont != nil {
			return sr.cont.patchUsage(*obj, sr.rec), true, nil
		}
		return data, true, nil
	}
	if hadUsage {
		if choices, ok := obj.Raw("choices"); !ok || isEmptyArray(choices) {
			return nil, false, nil
		}
	}
	if obj.Has("usage") {
		sr.patched = obj.AppendPatch(sr.patched[:0], jsonpeek.Edit{Key: "usage", Delete: true})
		return sr.patched, true, nil
	}
	return data, true, nil
}

// send writes the held chunks and data, committing the headers first.
func (sr *streamRelay) send(a router.Attempt, data []byte) error {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if !sr.committed {
		sr.commitLocked(&a)
	}
	for _, h := range sr.held {
		if err := sr.writeChunk(a, h); err != nil {
			return err
		}
		sr.script.add(h)
	}
	sr.held = sr.held[:0]
	if err := sr.writeChunk(a, data); err != nil {
		return err
	}
	sr.unflushed = true
	sr.script.add(data)
	if sr.rec.bodies != nil {
		sr.rec.bodies.addChunk(data)
	}
	if !sr.content {
		sr.rec.row.TTFT = sr.s.opts.Now().Sub(sr.rec.start)
	}
	sr.content = true
	sr.rec.contentChunks++
	sr.resetKeepAliveLocked()
	return nil
}

// flush sends what send wrote.
func (sr *streamRelay) flush() error {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.unflushed = false
	if err := sr.sw.Flush(); err != nil {
		return errClientWrite
	}
	return nil
}

// pendingStream is implemented by streams that can tell whether their next
// event has already arrived.
type pendingStream interface {
	Pending() bool
}

// commitLocked sends the 200 and the SSE headers. a is the attempt whose
// content commits the stream, or nil for a keep-alive.
func (sr *streamRelay) commitLocked(a *router.Attempt) {
	h := sr.w.Header()
	const trailers = trailerAttempts + ", " + trailerChannel + ", " + trailerModel + ", " + trailerFallback + ", " + headerContinued
	if a != nil {
		setHeaders(h, "Content-Type", "text/event-stream", "Cache-Control", "no-cache", "X-Accel-Buffering", "no", "Trailer", trailers,
			headerAttempts, strconv.Itoa(a.N), headerChannel, a.Target.Channel, headerModel, a.Model.Name,
			headerFallback, strconv.FormatBool(a.Fallback))
	} else {
		setHeaders(h, "Content-Type", "text/event-stream", "Cache-Control", "no-cache", "X-Accel-Buffering", "no", "Trailer", trailers)
	}
	sr.w.WriteHeader(http.StatusOK)
	sr.sw = sse.NewWriter(sr.w)
	sr.committed = true
}

// complete ends a successful stream with [DONE] and the trailers.
func (sr *streamRelay) complete(a router.Attempt) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.stopped = true
	if !sr.committed {
		sr.commitLocked(&a)
	}
	for _, h := range sr.held {
		if sr.writeChunk(a, h) != nil {
			sr.clientGoneLocked(errClientWrite)
			return
		}
	}
	sr.held = sr.held[:0]
	sr.rec.row.Continued = sr.cont != nil
	setHeaders(sr.w.Header(), trailerAttempts, strconv.Itoa(len(sr.rr.plan.Records())), trailerChannel, a.Target.Channel,
		trailerModel, a.Model.Name, trailerFallback, strconv.FormatBool(a.Fallback),
		headerContinued, strconv.FormatBool(sr.cont != nil))
	if err := sr.writeEnd(); err != nil {
		sr.clientGoneLocked(err)
	}
}

// fail ends the stream when no attempt is left: a real HTTP error while
// nothing was sent, else an in-band error event and no [DONE], so every
// SDK raises instead of returning a truncated answer. After content was
// sent, the error reports the original failure.
func (sr *streamRelay) fail(ctx context.Context, err error) {
	if sr.origErr != nil && !errors.Is(context.Cause(ctx), errTotalTimeout) {
		err = sr.origErr
	}
	ae := sr.s.relayError(ctx, sr.rr, err)
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.stopped = true
	if ae.Status == statusClientClosed {
		sr.clientGoneLocked(err)
		return
	}
	if !sr.committed {
		sr.mu.Unlock()
		sr.s.failRelay(ctx, sr.w, sr.r, sr.rr, err)
		sr.mu.Lock()
		return
	}
	sr.rec.err = ae
	sr.rec.row.Truncated = sr.content
	sr.s.log.Warn("stream failed after the response started", "request_id", sr.rec.row.RequestID, "key_id", sr.rec.row.KeyID,
		"model", sr.rec.row.ModelRequested, "channel", sr.rec.row.Channel, "attempt", len(sr.rr.plan.Records()), "error", errString(ae))
	body := errorBody(ae, sr.rec.row.RequestID)
	if sr.content {
		body.Error.Message = "The stream was interrupted before the answer was complete: " + body.Error.Message
	}
	if err := sr.writeFailure(ae, body); err != nil {
		sr.clientGoneLocked(err)
	}
	sr.w.Header().Set(trailerAttempts, strconv.Itoa(len(sr.rr.plan.Records())))
}

func (sr *streamRelay) clientGone(err error) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.stopped = true
	sr.clientGoneLocked(err)
}

func (sr *streamRelay) clientGoneLocked(err error) {
	sr.rec.statusOverride = statusClientClosed
	if sr.rec.err == nil {
		sr.rec.err = &apiError{Status: statusClientClosed, Type: typeInvalidRequest, Code: "client_closed",
			Message: "The client closed the stream before it finished.", Cause: err}
	}
}

// startKeepAlive arms the keep-alive timer.
func (sr *streamRelay) startKeepAlive() {
	if sr.interval <= 0 {
		return
	}
	// tick reads keepAlive under the lock, and may run before AfterFunc
	// has returned.
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.keepAlive = time.AfterFunc(sr.interval, sr.tick)
}

// tick sends a keep-alive comment, committing the 200 if needed: from
// then on a failure before content is reported in-band, but attempts go
// on transparently.
func (sr *streamRelay) tick() {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.stopped {
		return
	}
	if idle := time.Since(sr.lastSent); !sr.lastSent.IsZero() && idle < sr.interval {
		// Something went out since the timer was armed: wait for the
		// rest of the interval after it.
		sr.keepAlive.Reset(sr.interval - idle)
		return
	}
	if !sr.committed {
		sr.commitLocked(nil)
	}
	if sr.writeKeepAlive() != nil {
		sr.stopped = true
		return
	}
	sr.keepAlive.Reset(sr.interval)
}

// resetKeepAliveLocked restarts the keep-alive interval after an event.
// It only notes the time: the timer re-arms itself when it fires, so an
// event costs a clock read instead of a timer update.
func (sr *streamRelay) resetKeepAliveLocked() {
	if sr.keepAlive != nil {
		sr.lastSent = time.Now()
	}
}

// stopKeepAlive ends the keep-alives once the stream is over, and gives
// the event writer's buffer back: nothing writes after it.
func (sr *streamRelay) stopKeepAlive() {
	sr.mu.Lock()
	sr.stopped = true
	if sr.sw != nil {
		sr.sw.Release()
	}
	sr.mu.Unlock()
	if sr.keepAlive != nil {
		sr.keepAlive.Stop()
	}
}

// streamErrorMessage extracts the message of an in-stream error object.
func streamErrorMessage(raw []byte) string {
	var e openai.ErrorBody
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		return e.Message
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	return "the upstream reported an error in the stream"
}
