package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate/internal/store"
)

const creditColumns = `id, owner, amount, note, time, rev`

// scanCredit reads one row selected with creditColumns.
func scanCredit(row pgx.Row) (store.Credit, error) {
	var (
		c store.Credit
		t pgtype.Timestamptz
	)
	if err := row.Scan(&c.ID, &c.Owner, &c.Amount, &c.Note, &t, &c.Rev); err != nil {
		return store.Credit{}, err
	}
	c.Time = decodeTime(t)
	return c, nil
}

// AddCredit implements store.Balances. Time is c.Time, or the current time
// if that is zero; c.ID and c.Rev are ignored. An empty Owner or a zero
// Amount yields store.ErrInvalid.
func (s *Store) AddCredit(ctx context.Context, c store.Credit) (store.Credit, error) {
	if c.Owner == "" {
		return store.Credit{}, fmt.Errorf("postgres: add credit: %w: owner is required", store.ErrInvalid)
	}
	if c.Amount == 0 {
		return store.Credit{}, fmt.Errorf("postgres: add credit for %s: %w: amount is zero", c.Owner, store.ErrInvalid)
	}
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	t, err := encodeTime(c.Time)
	if err != nil {
		return store.Credit{}, fmt.Errorf("postgres: add credit: %w", err)
	}
	var out store.Credit
	err = s.writeTx(ctx, lockCredits, func(tx pgx.Tx) error {
		var err error
		out, err = scanCredit(tx.QueryRow(ctx, `INSERT INTO credits (owner, amount, note, time, rev)
			VALUES ($1, $2, $3, $4, `+nextRev("credits")+`)
			RETURNING `+creditColumns, c.Owner, int64(c.Amount), c.Note, t))
		return err
	})
	if err != nil {
		return store.Credit{}, wrap("add credit", err)
	}
	return out, nil
}

// CreditsChangedSince implements store.Balances.
func (s *Store) CreditsChangedSince(ctx context.Context, rev int64) ([]store.Credit, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+creditColumns+` FROM credits WHERE rev > $1 ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("credits changed since", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Credit, error) { return scanCredit(r) })
	if err != nil {
		return nil, wrap("credits changed since", err)
	}
	return cs, nil
}

// OwnerTotals implements store.Balances. Both sums cover all time and are
// read by one statement, so they describe the same moment. An empty owner
// yields store.ErrInvalid.
func (s *Store) OwnerTotals(ctx context.Context, owner string) (credited, spent store.Money, err error) {
	if owner == "" {
		return 0, 0, fmt.Errorf("postgres: owner totals: %w: owner is required", store.ErrInvalid)
	}
	err = s.pool.QueryRow(ctx, `SELECT
			(SELECT COALESCE(SUM(amount), 0) FROM credits WHERE owner = $1)::bigint,
			(SELECT COALESCE(SUM(cost_micros), 0) FROM request_logs WHERE owner = $1 AND charged AND cost_micros > 0)::bigint`,
		owner).Scan(&credited, &spent)
	if err != nil {
		return 0, 0, wrap("owner totals", err)
	}
	return credited, spent, nil
}

// SpendSince implements store.Balances. Exactly one of keyID and group must
// be set, or it yields store.ErrInvalid. A zero since, or any time before
// year 1, means all time; a since from year 10000 on finds nothing.
func (s *Store) SpendSince(ctx context.Context, keyID, group string, since time.Time) (store.Money, error) {
	var col, val string
	switch {
	case keyID != "" && group == "":
		col, val = "key_id", keyID
	case group != "" && keyID == "":
		col, val = "group_name", group
	default:
		return 0, fmt.Errorf("postgres: spend since: %w: exactly one of key ID and group is required", store.ErrInvalid)
	}
	if !since.Before(maxTime) {
		return 0, nil
	}
	// Both forms match the partial spend indexes (charged rows that cost
	// something).
	q := `SELECT COALESCE(SUM(cost_micros), 0)::bigint FROM request_logs WHERE ` + col + ` = $1 AND charged AND cost_micros > 0`
	args := []any{val}
	if !since.Before(minTime) {
		q += ` AND time >= $2`
		args = append(args, since)
	}
	var spent store.Money
	if err := s.pool.QueryRow(ctx, q, args...).Scan(&spent); err != nil {
		return 0, wrap("spend since", err)
	}
	return spent, nil
}
