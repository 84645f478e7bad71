package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const priceColumns = `model, input_per_m, output_per_m, cached_input_per_m, updated_at, rev`

// scanPrice reads one row selected with priceColumns.
func scanPrice(r rowScanner) (store.Price, error) {
	var (
		p       store.Price
		updated sql.NullInt64
	)
	if err := r.Scan(&p.Model, &p.InputPerM, &p.OutputPerM, &p.CachedInputPerM, &updated, &p.Rev); err != nil {
		return store.Price{}, err
	}
	p.UpdatedAt = decodeTime(updated)
	return p, nil
}

// PutPrice implements store.Prices with one upsert.
func (s *Store) PutPrice(ctx context.Context, p store.Price) (store.Price, error) {
	if p.Model == "" {
		return store.Price{}, fmt.Errorf("sqlite: put price: %w: model is required", store.ErrInvalid)
	}
	if p.InputPerM < 0 || p.OutputPerM < 0 || p.CachedInputPerM < 0 {
		return store.Price{}, fmt.Errorf("sqlite: put price %s: %w: negative price", p.Model, store.ErrInvalid)
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now()
	}
	updated, err := encodeTime(p.UpdatedAt)
	if err != nil {
		return store.Price{}, fmt.Errorf("sqlite: put price %s: %w", p.Model, err)
	}
	var out store.Price
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanPrice(tx.QueryRowContext(ctx, `INSERT INTO prices (`+priceColumns+`)
			VALUES (?, ?, ?, ?, ?, `+nextRev("prices")+`)
			ON CONFLICT (model) DO UPDATE SET
				input_per_m = excluded.input_per_m, output_per_m = excluded.output_per_m,
				cached_input_per_m = excluded.cached_input_per_m,
				updated_at = excluded.updated_at, rev = excluded.rev
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
	ps, err := queryAll(ctx, s.db, scanPrice, `SELECT `+priceColumns+` FROM prices ORDER BY model`)
	if err != nil {
		return nil, wrap("list prices", err)
	}
	return ps, nil
}

// PricesChangedSince implements store.Prices.
func (s *Store) PricesChangedSince(ctx context.Context, rev int64) ([]store.Price, error) {
	ps, err := queryAll(ctx, s.db, scanPrice, `SELECT `+priceColumns+` FROM prices WHERE rev > ? ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("prices changed since", err)
	}
	return ps, nil
}
