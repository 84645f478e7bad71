package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const creditColumns = `id, owner, amount, note, time, rev`

// scanCredit reads one row selected with creditColumns.
func scanCredit(r rowScanner) (store.Credit, error) {
	var (
		c store.Credit
		t sql.NullInt64
	)
	if err := r.Scan(&c.ID, &c.Owner, &c.Amount, &c.Note, &t, &c.Rev); err != nil {
		return store.Credit{}, err
	}
	c.Time = decodeTime(t)
	return c, nil
}

// AddCredit implements store.Balances.
func (s *Store) AddCredit(ctx context.Context, c store.Credit) (store.Credit, error) {
	if c.Owner == "" {
		return store.Credit{}, fmt.Errorf("sqlite: add credit: %w: owner is required", store.ErrInvalid)
	}
	if c.Amount == 0 {
		return store.Credit{}, fmt.Errorf("sqlite: add credit for %s: %w: amount is zero", c.Owner, store.ErrInvalid)
	}
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	t, err := encodeTime(c.Time)
	if err != nil {
		return store.Credit{}, fmt.Errorf("sqlite: add credit for %s: %w", c.Owner, err)
	}
	var out store.Credit
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanCredit(tx.QueryRowContext(ctx, `INSERT INTO credits (owner, amount, note, time, rev)
			VALUES (?, ?, ?, ?, `+nextRev("credits")+`)
			RETURNING `+creditColumns,
			c.Owner, int64(c.Amount), c.Note, t))
		return err
	})
	if err != nil {
		return store.Credit{}, wrap("add credit", err)
	}
	return out, nil
}

// CreditsChangedSince implements store.Balances.
func (s *Store) CreditsChangedSince(ctx context.Context, rev int64) ([]store.Credit, error) {
	cs, err := queryAll(ctx, s.db, scanCredit, `SELECT `+creditColumns+` FROM credits WHERE rev > ? ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("credits changed since", err)
	}
	return cs, nil
}

// OwnerTotals implements store.Balances. Both sums are read in one
// statement, so they describe the same moment.
func (s *Store) OwnerTotals(ctx context.Context, owner string) (credited, spent store.Money, err error) {
	if owner == "" {
		return 0, 0, fmt.Errorf("sqlite: owner totals: %w: owner is required", store.ErrInvalid)
	}
	err = s.db.QueryRowContext(ctx, `SELECT
			(SELECT COALESCE(SUM(amount), 0) FROM credits WHERE owner = ?),
			(SELECT COALESCE(SUM(cost_micros), 0) FROM request_logs WHERE owner = ? AND charged = 1 AND cost_micros > 0)`,
		owner, owner).Scan(&credited, &spent)
	if err != nil {
		return 0, 0, wrap("owner totals", err)
	}
	return credited, spent, nil
}

// SpendSince implements store.Balances.
func (s *Store) SpendSince(ctx context.Context, keyID, group string, since time.Time) (store.Money, error) {
	var col, val string
	switch {
	case keyID != "" && group == "":
		col, val = "key_id", keyID
	case group != "" && keyID == "":
		col, val = "group_name", group
	default:
		return 0, fmt.Errorf("sqlite: spend since: %w: exactly one of key ID and group is required", store.ErrInvalid)
	}
	var from int64
	switch {
	case since.Before(minTime): // includes the zero time: all time
		from = math.MinInt64
	case since.After(maxTime):
		return 0, nil
	default:
		from = since.UnixNano()
	}
	var spent store.Money
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(cost_micros), 0) FROM request_logs
		WHERE `+col+` = ? AND charged = 1 AND cost_micros > 0 AND time >= ?`, val, from).Scan(&spent)
	if err != nil {
		return 0, wrap("spend since", err)
	}
	return spent, nil
}
