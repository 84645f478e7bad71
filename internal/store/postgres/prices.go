package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate/internal/store"
)

const priceColumns = `model, input_per_m, output_per_m, cached_input_per_m, updated_at, rev`

// scanPrice reads one row selected with priceColumns.
func scanPrice(row pgx.Row) (store.Price, error) {
	var (
		p       store.Price
		updated pgtype.Timestamptz
	)
	if err := row.Scan(&p.Model, &p.InputPerM, &p.OutputPerM, &p.CachedInputPerM, &updated, &p.Rev); err != nil {
		return store.Price{}, err
	}
	p.UpdatedAt = decodeTime(updated)
	return p, nil
}

// PutPrice implements store.Prices. UpdatedAt is p.UpdatedAt, or the
// current time if that is zero. An empty Model or a negative price yields
// store.ErrInvalid.
func (s *Store) PutPrice(ctx context.Context, p store.Price) (store.Price, error) {
	if p.Model == "" {
		return store.Price{}, fmt.Errorf("postgres: put price: %w: model is required", store.ErrInvalid)
	}
	if p.InputPerM < 0 || p.OutputPerM < 0 || p.CachedInputPerM < 0 {
		return store.Price{}, fmt.Errorf("postgres: put price %s: %w: negative price", p.Model, store.ErrInvalid)
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now()
	}
	updated, err := encodeTime(p.UpdatedAt)
	if err != nil {
		return store.Price{}, fmt.Errorf("postgres: put price: %w", err)
	}
	var out store.Price
	err = s.writeTx(ctx, lockPrices, func(tx pgx.Tx) error {
		var err error
		out, err = scanPrice(tx.QueryRow(ctx, `INSERT INTO prices (`+priceColumns+`)
			VALUES ($1, $2, $3, $4, $5, `+nextRev("prices")+`)
			ON CONFLICT (model) DO UPDATE SET
				input_per_m = EXCLUDED.input_per_m, output_per_m = EXCLUDED.output_per_m,
				cached_input_per_m = EXCLUDED.cached_input_per_m,
				updated_at = EXCLUDED.updated_at, rev = EXCLUDED.rev
			RETURNING `+priceColumns,
			p.Model, int64(p.InputPerM), int64(p.OutputPerM), int64(p.CachedInputPerM), updated))
		return err
	})
	if err != nil {
		return store.Price{}, wrap("put price", err)
	}
	return out, nil
}

// ListPrices implements store.Prices.
func (s *Store) ListPrices(ctx context.Context) ([]store.Price, error) {
	ps, err := s.queryPrices(ctx, `SELECT `+priceColumns+` FROM prices ORDER BY model`)
	if err != nil {
		return nil, wrap("list prices", err)
	}
	return ps, nil
}

// PricesChangedSince implements store.Prices.
func (s *Store) PricesChangedSince(ctx context.Context, rev int64) ([]store.Price, error) {
	ps, err := s.queryPrices(ctx, `SELECT `+priceColumns+` FROM prices WHERE rev > $1 ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("prices changed since", err)
	}
	return ps, nil
}

// queryPrices runs a query selecting priceColumns and scans every row.
func (s *Store) queryPrices(ctx context.Context, sql string, args ...any) ([]store.Price, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Price, error) { return scanPrice(r) })
}
