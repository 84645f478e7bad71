package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/internal/store"
)

// bodyColumnNames lists the request_bodies columns written, in the order
// of bodyValues.
var bodyColumnNames = []string{"request_id", "request_time", "request_body", "response_body",
	"request_truncated", "response_truncated"}

// bodyValues returns the bodies of r in bodyColumnNames order; text is
// cleaned as for log rows.
func bodyValues(r *store.RequestLog) ([]any, error) {
	rt, err := encodeTime(r.Time)
	if err != nil {
		return nil, err
	}
	return []any{cleanText(r.RequestID), rt, cleanText(r.RequestBody), cleanText(r.ResponseBody),
		r.RequestBodyTruncated, r.ResponseBodyTruncated}, nil
}

// loadBodies fills in the stored bodies of rows, one lookup per row.
func (s *Store) loadBodies(ctx context.Context, rows []store.RequestLog) error {
	for i := range rows {
		r := &rows[i]
		rt, err := encodeTime(r.Time)
		if err != nil {
			return err
		}
		err = s.pool.QueryRow(ctx, `SELECT request_body, response_body, request_truncated, response_truncated
			FROM request_bodies WHERE request_id = $1 AND request_time = $2 ORDER BY id DESC LIMIT 1`,
			cleanText(r.RequestID), rt).
			Scan(&r.RequestBody, &r.ResponseBody, &r.RequestBodyTruncated, &r.ResponseBodyTruncated)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
