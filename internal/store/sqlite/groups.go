package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const groupColumns = `name, models, limits, price_multiplier_ppm, created_at, updated_at, rev`

// scanGroup reads one row selected with groupColumns.
func scanGroup(r rowScanner) (store.Group, error) {
	var (
		g                store.Group
		models, limits   string
		created, updated sql.NullInt64
	)
	if err := r.Scan(&g.Name, &models, &limits, &g.PriceMultiplierPPM, &created, &updated, &g.Rev); err != nil {
		return store.Group{}, err
	}
	var err error
	if g.Models, err = decodeList(models); err != nil {
		return store.Group{}, fmt.Errorf("group %s: models: %w", g.Name, err)
	}
	if g.Limits, err = decodeLimits(limits); err != nil {
		return store.Group{}, fmt.Errorf("group %s: %w", g.Name, err)
	}
	g.CreatedAt = decodeTime(created)
	g.UpdatedAt = decodeTime(updated)
	return g, nil
}

// PutGroup implements store.Groups with one upsert that keeps created_at
// of an existing row.
func (s *Store) PutGroup(ctx context.Context, g store.Group) (store.Group, error) {
	if g.Name == "" {
		return store.Group{}, fmt.Errorf("sqlite: put group: %w: name is required", store.ErrInvalid)
	}
	if g.PriceMultiplierPPM < 0 {
		return store.Group{}, fmt.Errorf("sqlite: put group %s: %w: negative price multiplier", g.Name, store.ErrInvalid)
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = time.Now()
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = g.UpdatedAt
	}
	models, err := encodeList(g.Models)
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlite: put group %s: %w", g.Name, err)
	}
	limits, err := encodeLimits(g.Limits)
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlite: put group %s: %w", g.Name, err)
	}
	created, err := encodeTime(g.CreatedAt)
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlite: put group %s: %w", g.Name, err)
	}
	updated, err := encodeTime(g.UpdatedAt)
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlite: put group %s: %w", g.Name, err)
	}
	var out store.Group
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanGroup(tx.QueryRowContext(ctx, `INSERT INTO groups (`+groupColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, `+nextRev("groups")+`)
			ON CONFLICT (name) DO UPDATE SET
				models = excluded.models, limits = excluded.limits,
				price_multiplier_ppm = excluded.price_multiplier_ppm,
				updated_at = excluded.updated_at, rev = excluded.rev
			RETURNING `+groupColumns,
			g.Name, models, limits, g.PriceMultiplierPPM, created, updated))
		return err
	})
	if err != nil {
		return store.Group{}, wrap("put group", err)
	}
	return out, nil
}

// GetGroup implements store.Groups.
func (s *Store) GetGroup(ctx context.Context, name string) (store.Group, error) {
	g, err := scanGroup(s.db.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE name = ?`, name))
	if err != nil {
		return store.Group{}, wrap("get group", err)
	}
	return g, nil
}

// ListGroups implements store.Groups.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	gs, err := queryAll(ctx, s.db, scanGroup, `SELECT `+groupColumns+` FROM groups ORDER BY name`)
	if err != nil {
		return nil, wrap("list groups", err)
	}
	return gs, nil
}

// GroupsChangedSince implements store.Groups.
func (s *Store) GroupsChangedSince(ctx context.Context, rev int64) ([]store.Group, error) {
	gs, err := queryAll(ctx, s.db, scanGroup, `SELECT `+groupColumns+` FROM groups WHERE rev > ? ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("groups changed since", err)
	}
	return gs, nil
}
