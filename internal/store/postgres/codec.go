package postgres

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate/internal/store"
)

// Representable times: timestamptz reaches further, but these bounds keep
// every conversion (pgx counts microseconds in an int64) far from overflow.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// encodeTime returns the query argument for t: nil (SQL NULL) for a zero
// time, t itself otherwise. Times before year 1 or from year 10000 on yield
// store.ErrInvalid.
func encodeTime(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return nil, fmt.Errorf("%w: time %s out of range", store.ErrInvalid, t.Format(time.RFC3339))
	}
	return t, nil
}

// encodeTimes encodes ts in order with encodeTime.
func encodeTimes(ts ...time.Time) ([]any, error) {
	out := make([]any, len(ts))
	for i, t := range ts {
		v, err := encodeTime(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// decodeTime is the inverse of encodeTime; results are in UTC.
func decodeTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// encodeDuration returns d in whole microseconds.
func encodeDuration(d time.Duration) int64 { return d.Microseconds() }

// decodeDuration is the inverse of encodeDuration.
func decodeDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// encodeList returns the argument for a NOT NULL text[] column: pgx sends a
// nil slice as NULL, so nil becomes an empty array.
func encodeList(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// decodeList is the inverse of encodeList; an empty array decodes as nil.
func decodeList(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}

// cleanText makes s storable as PostgreSQL text: invalid UTF-8 sequences
// and NUL bytes become U+FFFD. Request log fields come from clients and
// upstreams, and one odd User-Agent must not cost a whole batch of rows.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// validInt32 returns store.ErrInvalid if n does not fit an integer column.
func validInt32(field string, n int) error {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return fmt.Errorf("%w: %s %d out of range", store.ErrInvalid, field, n)
	}
	return nil
}
