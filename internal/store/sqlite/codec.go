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

// encodeModels returns the model list as JSON text; nil encodes as "[]".
func encodeModels(models []string) (string, error) {
	if len(models) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(models)
	if err != nil {
		return "", fmt.Errorf("encode models: %w", err)
	}
	return string(b), nil
}

// decodeModels is the inverse of encodeModels; an empty list decodes as nil.
func decodeModels(s string) ([]string, error) {
	var models []string
	if err := json.Unmarshal([]byte(s), &models); err != nil {
		return nil, fmt.Errorf("decode models: %w", err)
	}
	if len(models) == 0 {
		return nil, nil
	}
	return models, nil
}

// boolInt returns 1 for true and 0 for false.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
