package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/internal/store"
)

const logColumns = `request_id, time, key_id, key_masked, key_name, endpoint,
	model_requested, model_served, channel, stream, status, error_type, error_message,
	prompt_tokens, completion_tokens, total_tokens, usage_estimated, ttfb_us, duration_us,
	client_ip, user_agent, attempts, failed_phase, retry_reasons, fallback, continued, truncated,
	owner, group_name, cached_tokens, cost_micros, charged`

// logColumnCount is the number of columns in logColumns.
const logColumnCount = 32

// logRowsPerStatement is how many rows one INSERT carries: multi-row
// statements cut the per-row cost of the background writer several-fold,
// and 32 rows stay far below SQLite's limit on bound parameters.
const logRowsPerStatement = 32

// InsertRequestLogs implements store.RequestLogs. All rows are written in
// one transaction, up to logRowsPerStatement rows per statement.
func (s *Store) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	if len(rows) == 0 {
		return nil
	}
	args := make([]any, 0, logColumnCount*min(len(rows), logRowsPerStatement))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt // the prepared statement for a full chunk, reused
		defer func() {
			if full != nil {
				_ = full.Close()
			}
		}()
		for start := 0; start < len(rows); start += logRowsPerStatement {
			chunk := rows[start:min(start+logRowsPerStatement, len(rows))]
			args = args[:0]
			for i := range chunk {
				var err error
				if args, err = appendLogArgs(args, &chunk[i]); err != nil {
					return fmt.Errorf("row %d (%s): %w", start+i, chunk[i].RequestID, err)
				}
			}
			stmt := full
			if stmt == nil || len(chunk) != logRowsPerStatement {
				prepared, err := tx.PrepareContext(ctx, insertLogsSQL(len(chunk)))
				if err != nil {
					return fmt.Errorf("prepare: %w", err)
				}
				if len(chunk) == logRowsPerStatement {
					full = prepared
				} else {
					defer prepared.Close()
				}
				stmt = prepared
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("rows %d-%d: %w", start, start+len(chunk)-1, err)
			}
		}
		return nil
	})
	if err != nil {
		return wrap("insert request logs", err)
	}
	return nil
}

// insertLogsSQL returns an INSERT of n rows.
func insertLogsSQL(n int) string {
	row := "(" + strings.Repeat("?, ", logColumnCount-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO request_logs (" + logColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// appendLogArgs appends one row's values in logColumns order.
func appendLogArgs(args []any, r *store.RequestLog) ([]any, error) {
	if r.Time.IsZero() {
		return args, fmt.Errorf("%w: time is required", store.ErrInvalid)
	}
	t, err := encodeTime(r.Time)
	if err != nil {
		return args, err
	}
	return append(args, r.RequestID, t, r.KeyID, r.KeyMasked, r.KeyName, r.Endpoint,
		r.ModelRequested, r.ModelServed, r.Channel, boolInt(r.Stream), r.Status, r.ErrorType, r.ErrorMessage,
		r.PromptTokens, r.CompletionTokens, r.TotalTokens, boolInt(r.UsageEstimated),
		encodeDuration(r.TTFB), encodeDuration(r.Duration), r.ClientIP, r.UserAgent,
		r.Attempts, r.FailedPhase, r.RetryReasons, boolInt(r.Fallback), boolInt(r.Continued), boolInt(r.Truncated),
		r.Owner, r.Group, r.CachedTokens, int64(r.CostMicros), boolInt(r.Charged)), nil
}

// ListRequestLogs implements store.RequestLogs.
func (s *Store) ListRequestLogs(ctx context.Context, f store.LogFilter) ([]store.RequestLog, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.KeyID != "" {
		add("key_id = ?", f.KeyID)
	}
	if f.Model != "" {
		add("(model_requested = ? OR model_served = ?)", f.Model, f.Model)
	}
	if f.Status != 0 {
		add("status = ?", f.Status)
	}
	if f.RequestID != "" {
		add("request_id = ?", f.RequestID)
	}
	if !f.Since.IsZero() {
		v, err := encodeTime(f.Since)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list request logs: since: %w", err)
		}
		add("time >= ?", v)
	}
	if !f.Until.IsZero() {
		v, err := encodeTime(f.Until)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list request logs: until: %w", err)
		}
		add("time < ?", v)
	}
	q := `SELECT ` + logColumns + ` FROM request_logs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, f.EffectiveLimit())

	out, err := s.queryLogs(ctx, q, args...)
	if err != nil {
		return nil, wrap("list request logs", err)
	}
	return out, nil
}

// queryLogs runs a query selecting logColumns and scans every row.
func (s *Store) queryLogs(ctx context.Context, query string, args ...any) ([]store.RequestLog, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.RequestLog
	for rows.Next() {
		var (
			r                     store.RequestLog
			t                     sql.NullInt64
			stream, estimated     int64
			fallback, continued   int64
			truncated, charged    int64
			ttfbMicros, durMicros int64
		)
		if err := rows.Scan(&r.RequestID, &t, &r.KeyID, &r.KeyMasked, &r.KeyName, &r.Endpoint,
			&r.ModelRequested, &r.ModelServed, &r.Channel, &stream, &r.Status, &r.ErrorType, &r.ErrorMessage,
			&r.PromptTokens, &r.CompletionTokens, &r.TotalTokens, &estimated, &ttfbMicros, &durMicros,
			&r.ClientIP, &r.UserAgent, &r.Attempts, &r.FailedPhase, &r.RetryReasons, &fallback, &continued, &truncated,
			&r.Owner, &r.Group, &r.CachedTokens, &r.CostMicros, &charged); err != nil {
			return nil, err
		}
		r.Time = decodeTime(t)
		r.Stream = stream != 0
		r.UsageEstimated = estimated != 0
		r.Fallback, r.Continued, r.Truncated = fallback != 0, continued != 0, truncated != 0
		r.Charged = charged != 0
		r.TTFB = decodeDuration(ttfbMicros)
		r.Duration = decodeDuration(durMicros)
		out = append(out, r)
	}
	return out, rows.Err()
}
