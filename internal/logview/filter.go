package logview

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// ErrBadFilter is wrapped by every error of the parsers here; the message
// names the parameter and what it accepts.
var ErrBadFilter = errors.New("bad filter")

// ParseTime reads a time bound: an RFC 3339 time, a date (2006-01-02, UTC
// midnight) or an age before now such as 90s, 15m, 1h or 7d. An empty
// string is the zero time (no bound).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100000 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%w: want an RFC 3339 time, a date (2006-01-02) or an age such as 1h or 7d, got %q", ErrBadFilter, s)
}

// Query holds the filters of a log listing as text, the way the CLI flags
// and the admin API's query parameters carry them.
type Query struct {
	Key, Model, Status, ErrorType, Since, Until, RequestID, Limit string
}

// QueryOf reads a Query from URL query parameters: key, model, status,
// error_type, since, until, request_id and limit.
func QueryOf(v url.Values) Query {
	return Query{Key: v.Get("key"), Model: v.Get("model"), Status: v.Get("status"), ErrorType: v.Get("error_type"),
		Since: v.Get("since"), Until: v.Get("until"), RequestID: v.Get("request_id"), Limit: v.Get("limit")}
}

// Filter checks q and returns the store filter it describes.
func (q Query) Filter(now time.Time) (store.LogFilter, error) {
	f := store.LogFilter{KeyID: q.Key, Model: q.Model, ErrorType: q.ErrorType, RequestID: q.RequestID}
	var err error
	if q.Status != "" {
		if f.Status, err = strconv.Atoi(q.Status); err != nil || f.Status < 100 || f.Status > 599 {
			return f, fmt.Errorf("%w: status wants an HTTP status such as 429, got %q", ErrBadFilter, q.Status)
		}
	}
	if q.Limit != "" {
		if f.Limit, err = strconv.Atoi(q.Limit); err != nil || f.Limit < 1 {
			return f, fmt.Errorf("%w: limit wants a positive number (at most %d), got %q", ErrBadFilter, store.MaxLogLimit, q.Limit)
		}
	}
	if f.Since, err = ParseTime(q.Since, now); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = ParseTime(q.Until, now); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	return f, nil
}

// UsageFilter checks the usage parameters and returns the store filter:
// by (key, model, group or day; default model), since and until.
func UsageFilter(by, since, until string, now time.Time) (store.UsageFilter, error) {
	f := store.UsageFilter{By: store.UsageBy(by)}
	if by == "" {
		f.By = store.UsageByModel
	}
	if !f.By.Valid() {
		return f, fmt.Errorf("%w: by wants key, model, group or day, got %q", ErrBadFilter, by)
	}
	var err error
	if f.Since, err = ParseTime(since, now); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = ParseTime(until, now); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	return f, nil
}
