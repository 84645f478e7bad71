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

// attemptColumnNames lists the request_attempts columns written and read,
// in the order of attemptValues and scanAttempt.
var attemptColumnNames = []string{"request_id", "request_time", "n", "channel", "model", "status", "class",
	"error", "phase", "retry_reason", "started", "duration_us", "ttfb_us"}

var attemptColumns = strings.Join(attemptColumnNames, ", ")

// attemptValues returns the column values of attempt a of row r in
// attemptColumnNames order; text is cleaned as for log rows.
func attemptValues(r *store.RequestLog, a *store.Attempt) ([]any, error) {
	rt, err := encodeTime(r.Time)
	if err != nil {
		return nil, err
	}
	started, err := encodeTime(a.Started)
	if err != nil {
		return nil, fmt.Errorf("attempt %d: started: %w", a.N, err)
	}
	if err := validInt32("attempt number", a.N); err != nil {
		return nil, err
	}
	if err := validInt32("attempt status", a.Status); err != nil {
		return nil, err
	}
	c := cleanText
	return []any{c(r.RequestID), rt, int32(a.N), c(a.Channel), c(a.Model), int32(a.Status), c(a.Class),
		c(a.Error), c(a.Phase), c(a.RetryReason), started, encodeDuration(a.Duration), encodeDuration(a.TTFB)}, nil
}

// ListAttempts implements store.LogReader.
func (s *Store) ListAttempts(ctx context.Context, requestID string) ([]store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+attemptColumns+` FROM request_attempts
		WHERE request_id = $1 ORDER BY started, n, id`, cleanText(requestID))
	if err != nil {
		return nil, wrap("list attempts", err)
	}
	out, err := pgx.CollectRows(rows, scanAttempt)
	if err != nil {
		return nil, wrap("list attempts", err)
	}
	return out, nil
}

// scanAttempt reads one row selected with attemptColumns.
func scanAttempt(row pgx.CollectableRow) (store.Attempt, error) {
	var (
		a                     store.Attempt
		rt, started           pgtype.Timestamptz
		n, status             int32
		durMicros, ttfbMicros int64
	)
	if err := row.Scan(&a.RequestID, &rt, &n, &a.Channel, &a.Model, &status, &a.Class, &a.Error, &a.Phase,
		&a.RetryReason, &started, &durMicros, &ttfbMicros); err != nil {
		return store.Attempt{}, err
	}
	a.N, a.Status = int(n), int(status)
	a.Started = decodeTime(started)
	a.Duration = decodeDuration(durMicros)
	a.TTFB = decodeDuration(ttfbMicros)
	return a, nil
}

// usageValue is the SQL expression of each Usage dimension.
var usageValue = map[store.UsageBy]string{
	store.UsageByKey:   "key_id",
	store.UsageByModel: "model_requested",
	store.UsageByGroup: "group_name",
	store.UsageByDay:   "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}

// Usage implements store.LogReader.
func (s *Store) Usage(ctx context.Context, f store.UsageFilter) ([]store.UsageRow, error) {
	value, ok := usageValue[f.By]
	if !ok {
		return nil, fmt.Errorf("postgres: usage: %w: cannot group by %q", store.ErrInvalid, f.By)
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.KeyID != "" {
		add("key_id = ?", cleanText(f.KeyID))
	}
	if err := addTimeRange(add, f.Since, f.Until); err != nil {
		return nil, fmt.Errorf("postgres: usage: %w", err)
	}
	q := `SELECT (` + value + `) COLLATE "C" AS v, count(*), COALESCE(sum(prompt_tokens), 0)::bigint,
		COALESCE(sum(completion_tokens), 0)::bigint, COALESCE(sum(cached_tokens), 0)::bigint,
		count(*) FILTER (WHERE status >= 400), COALESCE(sum(cost_micros) FILTER (WHERE charged), 0)::bigint
		FROM request_logs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` GROUP BY v ORDER BY v`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("usage", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.UsageRow, error) {
		var u store.UsageRow
		err := row.Scan(&u.Value, &u.Requests, &u.PromptTokens, &u.CompletionTokens, &u.CachedTokens, &u.Errors, &u.CostMicros)
		return u, err
	})
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
		return 0, fmt.Errorf("postgres: prune request logs: %w: bad cutoff %v", store.ErrInvalid, cutoff)
	}
	var deleted int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM request_logs WHERE id IN (
			SELECT id FROM request_logs WHERE time < $1 AND NOT (charged AND cost_micros <> 0)
			ORDER BY time LIMIT $2)`, c, limit)
		if err != nil {
			return err
		}
		deleted = tag.RowsAffected()
		if _, err = tx.Exec(ctx, `DELETE FROM request_attempts WHERE id IN (
			SELECT id FROM request_attempts WHERE request_time < $1 ORDER BY request_time LIMIT $2)`, c, 4*limit); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM request_bodies WHERE id IN (
			SELECT id FROM request_bodies WHERE request_time < $1 ORDER BY request_time LIMIT $2)`, c, limit)
		return err
	})
	if err != nil {
		return 0, wrap("prune request logs", err)
	}
	return deleted, nil
}
