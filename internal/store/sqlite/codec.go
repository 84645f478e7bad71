package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// Representable time range for INTEGER unix nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encodeTime returns t as unix nanoseconds, or nil (SQL NULL) for a zero
// time. Times outside 1677..2262 yield store.ErrInvalid.
func encodeTime(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("%w: time %s out of range", store.ErrInvalid, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// decodeTime is the inverse of encodeTime; results are in UTC.
func decodeTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// encodeDuration returns d in whole microseconds.
func encodeDuration(d time.Duration) int64 { return d.Microseconds() }

// decodeDuration is the inverse of encodeDuration.
func decodeDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// encodeList returns a string list (model patterns, CIDRs) as JSON text;
// nil encodes as "[]".
func encodeList(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

// decodeList is the inverse of encodeList; an empty list decodes as nil.
func decodeList(s string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// encodeLimits returns l as JSON text; zero fields are left out, so zero
// Limits encode as "{}".
func encodeLimits(l store.Limits) (string, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("encode limits: %w", err)
	}
	return string(b), nil
}

// decodeLimits is the inverse of encodeLimits.
func decodeLimits(s string) (store.Limits, error) {
	var l store.Limits
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return store.Limits{}, fmt.Errorf("decode limits: %w", err)
	}
	return l, nil
}

// boolInt returns 1 for true and 0 for false.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
