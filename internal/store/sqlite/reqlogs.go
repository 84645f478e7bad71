package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const logColumns = `request_id, time, key_id, key_masked, key_name, endpoint,
	model_requested, model_served, channel, stream, status, error_type, error_message,
	prompt_tokens, completion_tokens, total_tokens, usage_estimated, ttfb_us, duration_us,
	client_ip, user_agent, attempts, failed_phase, retry_reasons, fallback, continued, truncated,
	owner, group_name, cached_tokens, cost_micros, charged,
	upstream_request_id, ttft_us, request_bytes, response_bytes, finish_reason`

// logColumnCount is the number of columns in logColumns.
const logColumnCount = 37

// logRowsPerStatement is how many rows one INSERT carries: multi-row
// statements cut the per-row cost of the background writer several-fold,
// and 32 rows stay far below SQLite's limit on bound parameters.
const logRowsPerStatement = 32

// InsertRequestLogs implements store.RequestLogs. All rows and their
// attempts are written in one transaction, several rows per statement.
func (s *Store) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	if len(rows) == 0 {
		return nil
	}
	var (
		attempts   []attemptOf
		withBodies []*store.RequestLog
	)
	for i := range rows {
		for j := range rows[i].Timeline {
			attempts = append(attempts, attemptOf{row: &rows[i], a: &rows[i].Timeline[j]})
		}
		if rows[i].HasBodies() {
			withBodies = append(withBodies, &rows[i])
		}
	}
	err := s.inBulkTx(ctx, func(tx *bulkTx) error {
		logs := multiInsert{table: "request_logs", columns: logColumns, ncols: logColumnCount, perStmt: logRowsPerStatement}
		err := logs.exec(ctx, tx, len(rows), func(args []any, i int) ([]any, error) {
			args, err := appendLogArgs(args, &rows[i])
			if err != nil {
				return args, fmt.Errorf("row %d (%s): %w", i, rows[i].RequestID, err)
			}
			return args, nil
		})
		if err != nil {
			return err
		}
		at := multiInsert{table: "request_attempts", columns: attemptColumns, ncols: attemptColumnCount, perStmt: attemptRowsPerStatement}
		err = at.exec(ctx, tx, len(attempts), func(args []any, i int) ([]any, error) {
			return appendAttemptArgs(args, attempts[i].row, attempts[i].a)
		})
		if err != nil {
			return err
		}
		bodies := multiInsert{table: "request_bodies", columns: bodyColumns, ncols: bodyColumnCount, perStmt: bodyRowsPerStatement}
		return bodies.exec(ctx, tx, len(withBodies), func(args []any, i int) ([]any, error) {
			return appendBodyArgs(args, withBodies[i])
		})
	})
	if err != nil {
		return wrap("insert request logs", err)
	}
	return nil
}

// multiInsert writes rows into table several per statement, reusing the
// statement prepared for full chunks.
type multiInsert struct {
	table, columns string
	ncols, perStmt int
}

// exec inserts n rows whose values appendRow appends, row by row; the
// values must be driver values (see bulkTx.exec).
func (m multiInsert) exec(ctx context.Context, tx *bulkTx, n int, appendRow func(args []any, i int) ([]any, error)) error {
	if n == 0 {
		return nil
	}
	args := make([]any, 0, m.ncols*min(n, m.perStmt))
	var full driver.StmtExecContext // the prepared statement for a full chunk, reused
	var closeFull func()
	defer func() {
		if closeFull != nil {
			closeFull()
		}
	}()
	for start := 0; start < n; start += m.perStmt {
		end := min(start+m.perStmt, n)
		args = args[:0]
		for i := start; i < end; i++ {
			var err error
			if args, err = appendRow(args, i); err != nil {
				return err
			}
		}
		stmt := full
		if stmt == nil || end-start != m.perStmt {
			prepared, closeStmt, err := tx.prepare(ctx, m.sql(end-start))
			if err != nil {
				return fmt.Errorf("prepare %s: %w", m.table, err)
			}
			if end-start == m.perStmt {
				full, closeFull = prepared, closeStmt
			} else {
				defer closeStmt()
			}
			stmt = prepared
		}
		if err := tx.exec(ctx, stmt, args); err != nil {
			return fmt.Errorf("%s rows %d-%d: %w", m.table, start, end-1, err)
		}
	}
	return nil
}

// sql returns an INSERT of n rows.
func (m multiInsert) sql(n int) string {
	row := "(" + strings.Repeat("?, ", m.ncols-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO " + m.table + " (" + m.columns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// appendLogArgs appends one row's values in logColumns order, as driver
// values.
func appendLogArgs(args []any, r *store.RequestLog) ([]any, error) {
	if r.Time.IsZero() {
		return args, fmt.Errorf("%w: time is required", store.ErrInvalid)
	}
	t, err := encodeTime(r.Time)
	if err != nil {
		return args, err
	}
	return append(args, r.RequestID, t, r.KeyID, r.KeyMasked, r.KeyName, r.Endpoint,
		r.ModelRequested, r.ModelServed, r.Channel, boolInt(r.Stream), int64(r.Status), r.ErrorType, r.ErrorMessage,
		r.PromptTokens, r.CompletionTokens, r.TotalTokens, boolInt(r.UsageEstimated),
		encodeDuration(r.TTFB), encodeDuration(r.Duration), r.ClientIP, r.UserAgent,
		int64(r.Attempts), r.FailedPhase, r.RetryReasons, boolInt(r.Fallback), boolInt(r.Continued), boolInt(r.Truncated),
		r.Owner, r.Group, r.CachedTokens, int64(r.CostMicros), boolInt(r.Charged),
		r.UpstreamRequestID, encodeDuration(r.TTFT), r.RequestBytes, r.ResponseBytes, r.FinishReason), nil
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
	if f.ErrorType != "" {
		add("error_type = ?", f.ErrorType)
	}
	if err := addTimeRange(add, f.Since, f.Until); err != nil {
		return nil, fmt.Errorf("sqlite: list request logs: %w", err)
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
	if f.Bodies {
		if err := s.loadBodies(ctx, out); err != nil {
			return nil, wrap("list request logs: bodies", err)
		}
	}
	return out, nil
}

// addTimeRange adds the conditions time >= since and time < until for the
// bounds that are set.
func addTimeRange(add func(cond string, a ...any), since, until time.Time) error {
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
			ttftMicros            int64
		)
		if err := rows.Scan(&r.RequestID, &t, &r.KeyID, &r.KeyMasked, &r.KeyName, &r.Endpoint,
			&r.ModelRequested, &r.ModelServed, &r.Channel, &stream, &r.Status, &r.ErrorType, &r.ErrorMessage,
			&r.PromptTokens, &r.CompletionTokens, &r.TotalTokens, &estimated, &ttfbMicros, &durMicros,
			&r.ClientIP, &r.UserAgent, &r.Attempts, &r.FailedPhase, &r.RetryReasons, &fallback, &continued, &truncated,
			&r.Owner, &r.Group, &r.CachedTokens, &r.CostMicros, &charged,
			&r.UpstreamRequestID, &ttftMicros, &r.RequestBytes, &r.ResponseBytes, &r.FinishReason); err != nil {
			return nil, err
		}
		r.Time = decodeTime(t)
		r.Stream = stream != 0
		r.UsageEstimated = estimated != 0
		r.Fallback, r.Continued, r.Truncated = fallback != 0, continued != 0, truncated != 0
		r.Charged = charged != 0
		r.TTFB = decodeDuration(ttfbMicros)
		r.Duration = decodeDuration(durMicros)
		r.TTFT = decodeDuration(ttftMicros)
		out = append(out, r)
	}
	return out, rows.Err()
}
