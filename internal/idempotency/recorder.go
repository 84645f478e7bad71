package idempotency

import (
	"bytes"
	"maps"
)

// Recorder collects the answer of a Started request while the relay sends
// it, and builds the Result to Finish with. It stops keeping data once the
// size limit is passed, so a long stream costs no more memory than the
// limit. A Recorder is used by one request and is not safe for concurrent
// use.
type Recorder struct {
	limit  int
	size   int // bytes held in body and events
	body   []byte
	events [][]byte
	over   bool
}

// NewRecorder returns a Recorder that keeps at most limit bytes, counted as
// Result.Size counts them. A zero or negative limit means
// DefaultMaxResultBytes. Use the store's MaxResultBytes so the two agree.
func NewRecorder(limit int) *Recorder {
	if limit <= 0 {
		limit = DefaultMaxResultBytes
	}
	return &Recorder{limit: limit}
}

// AddEvent appends a copy of one stream event's data; the caller may reuse
// data afterwards. Events past the limit are dropped, together with all
// data kept so far.
func (r *Recorder) AddEvent(data []byte) {
	if r.over {
		return
	}
	if !r.grow(len(data)) {
		return
	}
	r.events = append(r.events, bytes.Clone(nonNil(data)))
}

// SetBody keeps a copy of a non-stream answer, replacing any body set
// before; the caller may reuse body afterwards. A body past the limit is
// dropped, together with all data kept so far.
func (r *Recorder) SetBody(body []byte) {
	if r.over {
		return
	}
	r.size -= len(r.body)
	r.body = nil
	if !r.grow(len(body)) {
		return
	}
	r.body = bytes.Clone(nonNil(body))
}

// Overflowed reports whether the data added so far passed the limit, so
// Result will report that it does not fit.
func (r *Recorder) Overflowed() bool { return r.over }

// Result returns the recorded answer with status and a copy of header. If
// everything fits within the limit (header included) it returns the full
// Result and true. Otherwise it returns a Result with TooLarge set and no
// body or events, and false; Finish it all the same, so that a repeat is
// told the answer cannot be replayed rather than running again. The
// returned Result may share memory with the Recorder, which must not be
// used afterwards.
func (r *Recorder) Result(status int, header map[string]string) (Result, bool) {
	res := Result{Status: status, Header: maps.Clone(header)}
	if r.over || r.size+res.Size() > r.limit {
		res.TooLarge = true
		return res, false
	}
	res.Body = r.body
	res.Events = r.events
	return res, true
}

// grow accounts for n more bytes and reports whether they fit; if not, it
// drops everything kept and marks the Recorder overflowed.
func (r *Recorder) grow(n int) bool {
	if r.size+n > r.limit {
		r.over = true
		r.size = 0
		r.body = nil
		r.events = nil
		return false
	}
	r.size += n
	return true
}

// nonNil returns b, or an empty non-nil slice if b is nil, so that a
// recorded empty event or body is kept as present.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
