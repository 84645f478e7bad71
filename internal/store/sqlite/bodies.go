package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tollgate/tollgate/internal/store"
)

const bodyColumns = `request_id, request_time, request_body, response_body, request_truncated, response_truncated`

// bodyColumnCount is the number of columns in bodyColumns.
const bodyColumnCount = 6

// bodyRowsPerStatement is how many body rows one INSERT carries; bodies
// can be large, so fewer than log rows.
const bodyRowsPerStatement = 8

// appendBodyArgs appends the bodies of r in bodyColumns order.
func appendBodyArgs(args []any, r *store.RequestLog) ([]any, error) {
	rt, err := encodeTime(r.Time)
	if err != nil {
		return args, err
	}
	return append(args, r.RequestID, rt, r.RequestBody, r.ResponseBody,
		boolInt(r.RequestBodyTruncated), boolInt(r.ResponseBodyTruncated)), nil
}

// loadBodies fills in the stored bodies of rows, one lookup per row.
func (s *Store) loadBodies(ctx context.Context, rows []store.RequestLog) error {
	for i := range rows {
		r := &rows[i]
		rt, err := encodeTime(r.Time)
		if err != nil {
			return err
		}
		var reqCut, respCut int64
		err = s.db.QueryRowContext(ctx, `SELECT request_body, response_body, request_truncated, response_truncated
			FROM request_bodies WHERE request_id = ? AND request_time = ? ORDER BY id DESC LIMIT 1`, r.RequestID, rt).
			Scan(&r.RequestBody, &r.ResponseBody, &reqCut, &respCut)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		r.RequestBodyTruncated, r.ResponseBodyTruncated = reqCut != 0, respCut != 0
	}
	return nil
}
