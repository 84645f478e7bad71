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
	client_ip, user_agent, attempts, failed_phase, retry_reasons, fallback, continued, truncated`

// InsertRequestLogs implements store.RequestLogs. All rows are written in
// one transaction with one prepared statement.
func (s *Store) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	if len(rows) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO request_logs (`+logColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer stmt.Close()
		for i := range rows {
			r := &rows[i]
			if r.Time.IsZero() {
				return fmt.Errorf("row %d (%s): %w: time is required", i, r.RequestID, store.ErrInvalid)
			}
			t, err := encodeTime(r.Time)
			if err != nil {
				return fmt.Errorf("row %d (%s): %w", i, r.RequestID, err)
			}
			if _, err := stmt.ExecContext(ctx, r.RequestID, t, r.KeyID, r.KeyMasked, r.KeyName, r.Endpoint,
				r.ModelRequested, r.ModelServed, r.Channel, boolInt(r.Stream), r.Status, r.ErrorType, r.ErrorMessage,
				r.PromptTokens, r.CompletionTokens, r.TotalTokens, boolInt(r.UsageEstimated),
				encodeDuration(r.TTFB), encodeDuration(r.Duration), r.ClientIP, r.UserAgent,
				r.Attempts, r.FailedPhase, r.RetryReasons, boolInt(r.Fallback), boolInt(r.Continued), boolInt(r.Truncated)); err != nil {
				return fmt.Errorf("row %d (%s): %w", i, r.RequestID, err)
			}
		}
		return nil
	})
	if err != nil {
		return wrap("insert request logs", err)
	}
	return nil
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
			truncated             int64
			ttfbMicros, durMicros int64
		)
		if err := rows.Scan(&r.RequestID, &t, &r.KeyID, &r.KeyMasked, &r.KeyName, &r.Endpoint,
			&r.ModelRequested, &r.ModelServed, &r.Channel, &stream, &r.Status, &r.ErrorType, &r.ErrorMessage,
			&r.PromptTokens, &r.CompletionTokens, &r.TotalTokens, &estimated, &ttfbMicros, &durMicros,
			&r.ClientIP, &r.UserAgent, &r.Attempts, &r.FailedPhase, &r.RetryReasons, &fallback, &continued, &truncated); err != nil {
			return nil, err
		}
		r.Time = decodeTime(t)
		r.Stream = stream != 0
		r.UsageEstimated = estimated != 0
		r.Fallback, r.Continued, r.Truncated = fallback != 0, continued != 0, truncated != 0
		r.TTFB = decodeDuration(ttfbMicros)
		r.Duration = decodeDuration(durMicros)
		out = append(out, r)
	}
	return out, rows.Err()
}
