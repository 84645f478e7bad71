package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate/internal/store"
)

const groupColumns = `name, models, limits, price_multiplier_ppm, created_at, updated_at, rev`

// scanGroup reads one row selected with groupColumns.
func scanGroup(row pgx.Row) (store.Group, error) {
	var (
		g                store.Group
		created, updated pgtype.Timestamptz
	)
	if err := row.Scan(&g.Name, &g.Models, &g.Limits, &g.PriceMultiplierPPM, &created, &updated, &g.Rev); err != nil {
		return store.Group{}, err
	}
	g.Models = decodeList(g.Models)
	g.CreatedAt = decodeTime(created)
	g.UpdatedAt = decodeTime(updated)
	return g, nil
}

// PutGroup implements store.Groups. UpdatedAt is g.UpdatedAt, or the
// current time if that is zero. A new group's CreatedAt is g.CreatedAt, or
// UpdatedAt if that is zero; replacing a group keeps its CreatedAt. An empty
// Name or a negative PriceMultiplierPPM yields store.ErrInvalid.
func (s *Store) PutGroup(ctx context.Context, g store.Group) (store.Group, error) {
	if g.Name == "" {
		return store.Group{}, fmt.Errorf("postgres: put group: %w: name is required", store.ErrInvalid)
	}
	if g.PriceMultiplierPPM < 0 {
		return store.Group{}, fmt.Errorf("postgres: put group %s: %w: negative price multiplier", g.Name, store.ErrInvalid)
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = time.Now()
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = g.UpdatedAt
	}
	times, err := encodeTimes(g.CreatedAt, g.UpdatedAt)
	if err != nil {
		return store.Group{}, fmt.Errorf("postgres: put group: %w", err)
	}
	var out store.Group
	err = s.writeTx(ctx, lockGroups, func(tx pgx.Tx) error {
		var err error
		out, err = scanGroup(tx.QueryRow(ctx, `INSERT INTO groups (`+groupColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, `+nextRev("groups")+`)
			ON CONFLICT (name) DO UPDATE SET
				models = EXCLUDED.models, limits = EXCLUDED.limits,
				price_multiplier_ppm = EXCLUDED.price_multiplier_ppm,
				updated_at = EXCLUDED.updated_at, rev = EXCLUDED.rev
			RETURNING `+groupColumns,
			g.Name, encodeList(g.Models), g.Limits, g.PriceMultiplierPPM, times[0], times[1]))
		return err
	})
	if err != nil {
		return store.Group{}, wrap("put group", err)
	}
	return out, nil
}

// GetGroup implements store.Groups.
func (s *Store) GetGroup(ctx context.Context, name string) (store.Group, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, `SELECT `+groupColumns+` FROM groups WHERE name = $1`, name))
	if err != nil {
		return store.Group{}, wrap("get group", err)
	}
	return g, nil
}

// ListGroups implements store.Groups.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	gs, err := s.queryGroups(ctx, `SELECT `+groupColumns+` FROM groups ORDER BY name`)
	if err != nil {
		return nil, wrap("list groups", err)
	}
	return gs, nil
}

// GroupsChangedSince implements store.Groups.
func (s *Store) GroupsChangedSince(ctx context.Context, rev int64) ([]store.Group, error) {
	gs, err := s.queryGroups(ctx, `SELECT `+groupColumns+` FROM groups WHERE rev > $1 ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("groups changed since", err)
	}
	return gs, nil
}

// queryGroups runs a query selecting groupColumns and scans every row.
func (s *Store) queryGroups(ctx context.Context, sql string, args ...any) ([]store.Group, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Group, error) { return scanGroup(r) })
}
