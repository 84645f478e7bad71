package store

import (
	"context"
	"time"
)

// Attempt is one upstream attempt of a request: a sub-row of its
// RequestLog. Like the row, it never holds a secret or a body.
type Attempt struct {
	// RequestID is the request's id. InsertRequestLogs sets it from the
	// parent row, and ListAttempts returns it.
	RequestID string
	// N counts attempts from 1.
	N int
	// Channel is the upstream channel tried.
	Channel string
	// Model is the configured model the attempt served: the requested one
	// or a fallback.
	Model string
	// Status is the upstream's HTTP status; 0 when none arrived (connect
	// failure, timeout before headers).
	Status int
	// Class is why the attempt failed (timeout, rate_limit, server_error,
	// ...); empty on success.
	Class string
	// Error is the public description of the failure; empty on success.
	Error string
	// Phase is the phase that failed (connect, response_header,
	// first_token, idle, body, total); empty on success or when no phase
	// applies.
	Phase string
	// RetryReason says what followed a failed attempt and why, such as
	// "retry after rate_limit" or "failover after timeout"; empty for the
	// last attempt.
	RetryReason string
	// Started is when the attempt was sent upstream.
	Started time.Time
	// Duration is how long the attempt ran, including the stream it
	// relayed. Backends keep at least microsecond precision.
	Duration time.Duration
	// TTFB is the time from Started until the upstream's answer began:
	// its response headers for a stream, its whole body otherwise.
	TTFB time.Duration
}

// UsageBy names the dimension Usage groups by.
type UsageBy string

// The dimensions of Usage.
const (
	UsageByKey   UsageBy = "key"   // key id
	UsageByModel UsageBy = "model" // model requested
	UsageByGroup UsageBy = "group" // key group
	UsageByDay   UsageBy = "day"   // UTC day, "2006-01-02"
)

// Valid reports whether b is one of the UsageBy constants.
func (b UsageBy) Valid() bool {
	switch b {
	case UsageByKey, UsageByModel, UsageByGroup, UsageByDay:
		return true
	}
	return false
}

// UsageFilter selects the rows Usage sums. Zero values mean "any".
type UsageFilter struct {
	// By is the grouping dimension; required (ErrInvalid otherwise).
	By UsageBy
	// Since keeps rows with Time at or after it.
	Since time.Time
	// Until keeps rows with Time strictly before it.
	Until time.Time
	// KeyID keeps one key's rows.
	KeyID string
}

// UsageRow is the usage of one group of request log rows.
type UsageRow struct {
	// Value is the group's value: a key id, model, group name (empty for
	// keys without a group) or UTC day "2006-01-02".
	Value string
	// Requests counts every row, failed ones included.
	Requests int64
	// PromptTokens, CompletionTokens and CachedTokens are sums over every
	// row.
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	// Errors counts rows with a status of 400 or above.
	Errors int64
	// CostMicros sums the cost of charged rows only.
	CostMicros Money
}

// DefaultPruneBatch is the number of rows PruneRequestLogs deletes when
// its limit is not positive.
const DefaultPruneBatch = 5000

// LogReader reads the request log beyond ListRequestLogs. Implementations
// are safe for concurrent use.
type LogReader interface {
	// ListAttempts returns the attempts of the requests with this id,
	// ordered by Started, then N. A request id with no attempts (or no
	// row) yields an empty list, not ErrNotFound.
	ListAttempts(ctx context.Context, requestID string) ([]Attempt, error)
	// Usage sums the request log per f.By, in the database, ordered by
	// Value.
	Usage(ctx context.Context, f UsageFilter) ([]UsageRow, error)
}

// LogPruner enforces request log retention.
type LogPruner interface {
	// PruneRequestLogs deletes at most limit request log rows with Time
	// before cutoff (DefaultPruneBatch if limit is not positive), and the
	// attempts and bodies of requests before cutoff, and returns how many
	// log rows it deleted. Charged rows with a non-zero cost are kept: balances
	// and budgets are computed from them.
	PruneRequestLogs(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}
