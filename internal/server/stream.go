package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/provider"
	"github.com/tollgate/tollgate/internal/sse"
)

// streamRelay forwards one upstream stream to the client.
type streamRelay struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	rec       *record
	sw        *sse.Writer
	wantUsage bool
	finished  bool // a finish_reason was seen
	committed bool // the 200 and at least one event went out
}

// relayStream forwards events as they arrive, one flush per event. The
// first event is awaited before the 200 is committed, so a failure before
// any content still gets a real HTTP status.
func (s *Server) relayStream(ctx context.Context, w http.ResponseWriter, r *http.Request, rr *relayRequest, st provider.Stream) {
	defer st.Close()
	sr := &streamRelay{s: s, w: w, r: r, rec: recordFrom(r.Context()), wantUsage: rr.wantUsage}
	for {
		ev, err := st.Next(ctx)
		if err != nil {
			sr.end(ctx, err)
			return
		}
		data, keep, err := sr.filter(ev.Data)
		if err != nil {
			sr.end(ctx, err)
			return
		}
		if !keep {
			continue
		}
		if err := sr.write(data); err != nil {
			sr.clientGone(err)
			return
		}
	}
}

// filter checks one chunk, captures usage and the finish reason, and
// strips the usage tollgate asked for on the client's behalf.
func (sr *streamRelay) filter(data []byte) ([]byte, bool, error) {
	obj, err := jsonpeek.Parse(data)
	if err != nil {
		sr.s.log.Warn("skipping malformed upstream stream event", "request_id", sr.rec.row.RequestID, "channel", sr.rec.row.Channel, "error", err)
		return nil, false, nil
	}
	if raw, ok := obj.Raw("error"); ok && !isNull(raw) {
		return nil, false, &provider.Error{Kind: provider.KindStreamError, Phase: provider.PhaseIdle, Channel: sr.rec.row.Channel,
			Message: streamErrorMessage(raw)}
	}
	if sr.rec.row.ModelServed == "" {
		if served, ok, _ := obj.String("model"); ok {
			sr.rec.row.ModelServed = clip(served, 200)
		}
	}
	if !sr.finished && openai.ScanChunk(data).Finished {
		sr.finished = true
	}
	hadUsage := captureUsage(sr.rec, obj)
	if sr.wantUsage {
		return data, true, nil
	}
	if hadUsage {
		if choices, ok := obj.Raw("choices"); !ok || isEmptyArray(choices) {
			return nil, false, nil
		}
	}
	if obj.Has("usage") {
		return obj.Patch(jsonpeek.Edit{Key: "usage", Delete: true}), true, nil
	}
	return data, true, nil
}

// write sends one event, committing the SSE headers before the first.
func (sr *streamRelay) write(data []byte) error {
	if !sr.committed {
		sr.commit()
	}
	return sr.sw.Data(data)
}

func (sr *streamRelay) commit() {
	h := sr.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	sr.w.WriteHeader(http.StatusOK)
	sr.sw = sse.NewWriter(sr.w)
	sr.committed = true
}

// end finishes the stream: [DONE] after a complete answer, otherwise a
// real HTTP error (nothing sent yet) or an in-band error event without
// [DONE], so no SDK mistakes a cut stream for a complete one.
func (sr *streamRelay) end(ctx context.Context, err error) {
	var pe *provider.Error
	complete := errors.Is(err, io.EOF) ||
		(errors.As(err, &pe) && pe.Kind == provider.KindTruncated && sr.finished)
	if complete {
		if !sr.committed {
			sr.commit()
		}
		if err := sr.sw.Done(); err != nil {
			sr.clientGone(err)
		}
		return
	}
	// The total deadline also cancels the upstream read, so it must be
	// told apart from a client that left before looking at the kind.
	if errors.Is(context.Cause(ctx), errTotalTimeout) {
		err = totalTimeout(sr.s.opts.TotalTimeout, sr.rec.row.Channel, err)
	} else if errors.As(err, &pe) && pe.Kind == provider.KindCanceled {
		sr.clientGone(err)
		return
	}
	if !sr.committed {
		sr.s.writeError(sr.w, sr.r, err)
		return
	}
	ae := toAPIError(err)
	sr.rec.err = ae
	sr.s.log.Warn("stream failed after content was sent", "request_id", sr.rec.row.RequestID, "channel", sr.rec.row.Channel, "error", errString(ae))
	body := errorBody(ae, sr.rec.row.RequestID)
	body.Error.Message = "The stream was interrupted before the answer was complete: " + body.Error.Message
	data, _ := json.Marshal(body)
	if err := sr.sw.Data(data); err != nil {
		sr.clientGone(err)
	}
}

func (sr *streamRelay) clientGone(err error) {
	sr.rec.statusOverride = statusClientClosed
	if sr.rec.err == nil {
		sr.rec.err = &apiError{Status: statusClientClosed, Type: typeInvalidRequest, Code: "client_closed",
			Message: "The client closed the stream before it finished.", Cause: err}
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

// totalTimeout describes the whole-request deadline running out.
func totalTimeout(limit time.Duration, channel string, cause error) *apiError {
	return &apiError{Status: http.StatusGatewayTimeout, Type: typeServerError, Code: "timeout",
		Message: fmt.Sprintf("Timed out in the total phase: the request did not finish within the %s limit (channel %s). Retry, or ask for a shorter answer.", limit, channel),
		Cause:   cause}
}
