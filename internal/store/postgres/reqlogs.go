package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate/internal/store"
)

// logColumnNames lists the request_logs columns written and read, in the
// order of logValues and scanLog.
var logColumnNames = []string{"request_id", "time", "key_id", "key_masked", "key_name", "endpoint",
	"model_requested", "model_served", "channel", "stream", "status", "error_type", "error_message",
	"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "usage_estimated", "ttfb_us", "duration_us",
	"client_ip", "user_agent", "attempts", "failed_phase", "retry_reasons", "fallback", "continued", "truncated",
	"owner", "group_name", "cost_micros", "charged",
	"upstream_request_id", "ttft_us", "request_bytes", "response_bytes", "finish_reason"}

var logColumns = strings.Join(logColumnNames, ", ")

// logValues returns the column values of r in logColumnNames order. Text
// is cleaned with cleanText. A zero or out-of-range Time, or a Status or
// Attempts that does not fit an integer column, yields store.ErrInvalid.
func logValues(r *store.RequestLog) ([]any, error) {
	if r.Time.IsZero() {
		return nil, fmt.Errorf("%w: time is required", store.ErrInvalid)
	}
	t, err := encodeTime(r.Time)
	if err != nil {
		return nil, err
	}
	if err := validInt32("status", r.Status); err != nil {
		return nil, err
	}
	if err := validInt32("attempts", r.Attempts); err != nil {
		return nil, err
	}
	c := cleanText
	return []any{c(r.RequestID), t, c(r.KeyID), c(r.KeyMasked), c(r.KeyName), c(r.Endpoint),
		c(r.ModelRequested), c(r.ModelServed), c(r.Channel), r.Stream, int32(r.Status), c(r.ErrorType), c(r.ErrorMessage),
		r.PromptTokens, r.CompletionTokens, r.TotalTokens, r.CachedTokens, r.UsageEstimated,
		encodeDuration(r.TTFB), encodeDuration(r.Duration),
		c(r.ClientIP), c(r.UserAgent), int32(r.Attempts), c(r.FailedPhase), c(r.RetryReasons),
		r.Fallback, r.Continued, r.Truncated,
		c(r.Owner), c(r.Group), int64(r.CostMicros), r.Charged,
		c(r.UpstreamRequestID), encodeDuration(r.TTFT), r.RequestBytes, r.ResponseBytes, c(r.FinishReason)}, nil
}

// InsertRequestLogs implements store.RequestLogs. The rows and their
// attempts are checked first, then sent with one COPY per table in one
// transaction, so either all are stored or none. Text PostgreSQL cannot
// hold (invalid UTF-8, NUL bytes) is stored with U+FFFD in its place
// rather than failing the batch.
func (s *Store) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	if len(rows) == 0 {
		return nil
	}
	values := make([][]any, len(rows))
	var attempts, bodies [][]any
	for i := range rows {
		v, err := logValues(&rows[i])
		if err != nil {
			return fmt.Errorf("postgres: insert request logs: row %d (%s): %w", i, rows[i].RequestID, err)
		}
		values[i] = v
		for j := range rows[i].Timeline {
			av, err := attemptValues(&rows[i], &rows[i].Timeline[j])
			if err != nil {
				return fmt.Errorf("postgres: insert request logs: row %d (%s): %w", i, rows[i].RequestID, err)
			}
			attempts = append(attempts, av)
		}
		if rows[i].HasBodies() {
			bv, err := bodyValues(&rows[i])
			if err != nil {
				return fmt.Errorf("postgres: insert request logs: row %d (%s): bodies: %w", i, rows[i].RequestID, err)
			}
			bodies = append(bodies, bv)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"request_logs"}, logColumnNames, pgx.CopyFromRows(values))
		if err != nil {
			return err
		}
		if n != int64(len(rows)) {
			return fmt.Errorf("stored %d of %d rows", n, len(rows))
		}
		if err := copyAll(ctx, tx, "request_attempts", attemptColumnNames, attempts); err != nil {
			return err
		}
		return copyAll(ctx, tx, "request_bodies", bodyColumnNames, bodies)
	})
	if err != nil {
		return wrap("insert request logs", err)
	}
	return nil
}

// copyAll copies rows into table, if there are any.
func copyAll(ctx context.Context, tx pgx.Tx, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	if err != nil {
		return err
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("stored %d of %d %s rows", n, len(rows), table)
	}
	return nil
}

// ListRequestLogs implements store.RequestLogs.
func (s *Store) ListRequestLogs(ctx context.Context, f store.LogFilter) ([]store.RequestLog, error) {
	var (
		where []string
		args  []any
	)
	// add appends a condition whose single placeholder is written "?".
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.KeyID != "" {
		add("key_id = ?", f.KeyID)
	}
	if f.Model != "" {
		add("(model_requested = ? OR model_served = ?)", f.Model)
	}
	if f.Status != 0 {
		if err := validInt32("status", f.Status); err != nil {
			return nil, fmt.Errorf("postgres: list request logs: %w", err)
		}
		add("status = ?", f.Status)
	}
	if f.RequestID != "" {
		add("request_id = ?", f.RequestID)
	}
	if f.ErrorType != "" {
		add("error_type = ?", f.ErrorType)
	}
	if err := addTimeRange(add, f.Since, f.Until); err != nil {
		return nil, fmt.Errorf("postgres: list request logs: %w", err)
	}
	q := `SELECT ` + logColumns + ` FROM request_logs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.EffectiveLimit())
	q += ` ORDER BY time DESC, id DESC LIMIT $` + strconv.Itoa(len(args))

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list request logs", err)
	}
	out, err := pgx.CollectRows(rows, scanLog)
	if err != nil {
		return nil, wrap("list request logs", err)
	}
	if f.Bodies {
		if err := s.loadBodies(ctx, out); err != nil {
			return nil, wrap("list request logs: bodies", err)
		}
	}
	return out, nil
}

// scanLog reads one row selected with logColumns.
func scanLog(row pgx.CollectableRow) (store.RequestLog, error) {
	var (
		r                     store.RequestLog
		t                     pgtype.Timestamptz
		status, attempts      int32
		ttfbMicros, durMicros int64
		ttftMicros            int64
	)
	if err := row.Scan(&r.RequestID, &t, &r.KeyID, &r.KeyMasked, &r.KeyName, &r.Endpoint,
		&r.ModelRequested, &r.ModelServed, &r.Channel, &r.Stream, &status, &r.ErrorType, &r.ErrorMessage,
		&r.PromptTokens, &r.CompletionTokens, &r.TotalTokens, &r.CachedTokens, &r.UsageEstimated, &ttfbMicros, &durMicros,
		&r.ClientIP, &r.UserAgent, &attempts, &r.FailedPhase, &r.RetryReasons, &r.Fallback, &r.Continued, &r.Truncated,
		&r.Owner, &r.Group, &r.CostMicros, &r.Charged,
		&r.UpstreamRequestID, &ttftMicros, &r.RequestBytes, &r.ResponseBytes, &r.FinishReason); err != nil {
		return store.RequestLog{}, err
	}
	r.Time = decodeTime(t)
	r.Status = int(status)
	r.Attempts = int(attempts)
	r.TTFB = decodeDuration(ttfbMicros)
	r.Duration = decodeDuration(durMicros)
	r.TTFT = decodeDuration(ttftMicros)
	return r, nil
}

// addTimeRange adds the conditions time >= since and time < until for the
// bounds that are set.
func addTimeRange(add func(cond string, arg any), since, until time.Time) error {
	if !since.IsZero() {
		v, err := encodeTime(since)
		if err != nil {
			return fmt.Errorf("since: %w", err)
		}
		add("time >= ?", v)
	}
	if !until.IsZero() {
		v, err := encodeTime(until)
		if err != nil {
			return fmt.Errorf("until: %w", err)
		}
		add("time < ?", v)
	}
	return nil
}
