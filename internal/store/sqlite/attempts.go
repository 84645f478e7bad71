package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const attemptColumns = `request_id, request_time, n, channel, model, status, class, error, phase,
	retry_reason, started, duration_us, ttfb_us`

// attemptColumnCount is the number of columns in attemptColumns.
const attemptColumnCount = 13

// attemptRowsPerStatement is how many attempts one INSERT carries.
const attemptRowsPerStatement = 64

// attemptOf pairs an attempt with the row it belongs to.
type attemptOf struct {
	row *store.RequestLog
	a   *store.Attempt
}

// appendAttemptArgs appends one attempt's values in attemptColumns order.
// The request id and time come from the parent row.
func appendAttemptArgs(args []any, r *store.RequestLog, a *store.Attempt) ([]any, error) {
	rt, err := encodeTime(r.Time)
	if err != nil {
		return args, err
	}
	started, err := encodeTime(a.Started)
	if err != nil {
		return args, fmt.Errorf("attempt %d of %s: started: %w", a.N, r.RequestID, err)
	}
	return append(args, r.RequestID, rt, int64(a.N), a.Channel, a.Model, int64(a.Status), a.Class, a.Error, a.Phase,
		a.RetryReason, started, encodeDuration(a.Duration), encodeDuration(a.TTFB)), nil
}

// ListAttempts implements store.LogReader.
func (s *Store) ListAttempts(ctx context.Context, requestID string) ([]store.Attempt, error) {
	out, err := queryAll(ctx, s.db, scanAttempt,
		`SELECT `+attemptColumns+` FROM request_attempts WHERE request_id = ? ORDER BY started, n, id`, requestID)
	if err != nil {
		return nil, wrap("list attempts", err)
	}
	return out, nil
}

func scanAttempt(row rowScanner) (store.Attempt, error) {
	var (
		a                    store.Attempt
		rt, started          sql.NullInt64
		durMicros, ttfMicros int64
	)
	if err := row.Scan(&a.RequestID, &rt, &a.N, &a.Channel, &a.Model, &a.Status, &a.Class, &a.Error, &a.Phase,
		&a.RetryReason, &started, &durMicros, &ttfMicros); err != nil {
		return store.Attempt{}, err
	}
	a.Started = decodeTime(started)
	a.Duration = decodeDuration(durMicros)
	a.TTFB = decodeDuration(ttfMicros)
	return a, nil
}

// usageValue is the SQL expression of each Usage dimension.
var usageValue = map[store.UsageBy]string{
	store.UsageByKey:   "key_id",
	store.UsageByModel: "model_requested",
	store.UsageByGroup: "group_name",
	store.UsageByDay:   "strftime('%Y-%m-%d', time / 1000000000, 'unixepoch')",
}

// Usage implements store.LogReader.
func (s *Store) Usage(ctx context.Context, f store.UsageFilter) ([]store.UsageRow, error) {
	value, ok := usageValue[f.By]
	if !ok {
		return nil, fmt.Errorf("sqlite: usage: %w: cannot group by %q", store.ErrInvalid, f.By)
	}
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
	if err := addTimeRange(add, f.Since, f.Until); err != nil {
		return nil, fmt.Errorf("sqlite: usage: %w", err)
	}
	q := `SELECT ` + value + ` AS v, COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
		COALESCE(SUM(cached_tokens), 0), COALESCE(SUM(status >= 400), 0),
		COALESCE(SUM(CASE WHEN charged = 1 THEN cost_micros ELSE 0 END), 0) FROM request_logs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` GROUP BY v ORDER BY v`
	out, err := queryAll(ctx, s.db, func(row rowScanner) (store.UsageRow, error) {
		var u store.UsageRow
		err := row.Scan(&u.Value, &u.Requests, &u.PromptTokens, &u.CompletionTokens, &u.CachedTokens, &u.Errors, &u.CostMicros)
		return u, err
	}, q, args...)
	if err != nil {
		return nil, wrap("usage", err)
	}
	return out, nil
}

// PruneRequestLogs implements store.LogPruner, oldest rows first.
func (s *Store) PruneRequestLogs(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		limit = store.DefaultPruneBatch
	}
	c, err := encodeTime(cutoff)
	if err != nil || c == nil {
		return 0, fmt.Errorf("sqlite: prune request logs: %w: bad cutoff %v", store.ErrInvalid, cutoff)
	}
	var deleted int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM request_logs WHERE id IN (
			SELECT id FROM request_logs WHERE time < ? AND NOT (charged = 1 AND cost_micros <> 0)
			ORDER BY time LIMIT ?)`, c, limit)
		if err != nil {
			return err
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM request_attempts WHERE id IN (
			SELECT id FROM request_attempts WHERE request_time < ? ORDER BY request_time LIMIT ?)`, c, 4*limit); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM request_bodies WHERE id IN (
			SELECT id FROM request_bodies WHERE request_time < ? ORDER BY request_time LIMIT ?)`, c, limit)
		return err
	})
	if err != nil {
		return 0, wrap("prune request logs", err)
	}
	return deleted, nil
}
