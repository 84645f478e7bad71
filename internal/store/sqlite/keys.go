package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const keyColumns = `id, name, hash, last4, models, expires_at, revoked_at, created_at, updated_at, rev, admin`

// nextRev is the next change sequence number. It is evaluated inside the
// write transaction, which BEGIN IMMEDIATE serialises across connections
// and processes, so revs are strictly increasing. Keys are never deleted,
// so MAX(rev) never goes backwards.
const nextRev = `(SELECT COALESCE(MAX(rev), 0) + 1 FROM keys)`

// rowScanner is satisfied by *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanKey reads one row selected with keyColumns.
func scanKey(r rowScanner) (store.Key, error) {
	var (
		k                                  store.Key
		models                             string
		admin                              int64
		expires, revoked, created, updated sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Last4, &models,
		&expires, &revoked, &created, &updated, &k.Rev, &admin); err != nil {
		return store.Key{}, err
	}
	var err error
	if k.Models, err = decodeModels(models); err != nil {
		return store.Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.Admin = admin != 0
	k.ExpiresAt = decodeTime(expires)
	k.RevokedAt = decodeTime(revoked)
	k.CreatedAt = decodeTime(created)
	k.UpdatedAt = decodeTime(updated)
	return k, nil
}

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.Key) (store.Key, error) {
	if k.ID == "" || k.Name == "" || k.Hash == "" {
		return store.Key{}, fmt.Errorf("sqlite: insert key: %w: id, name and hash are required", store.ErrInvalid)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	if k.UpdatedAt.IsZero() {
		k.UpdatedAt = k.CreatedAt
	}
	models, err := encodeModels(k.Models)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: insert key: %w", err)
	}
	args := []any{k.ID, k.Name, k.Hash, k.Last4, models}
	for _, t := range []time.Time{k.ExpiresAt, k.RevokedAt, k.CreatedAt, k.UpdatedAt} {
		v, err := encodeTime(t)
		if err != nil {
			return store.Key{}, fmt.Errorf("sqlite: insert key: %w", err)
		}
		args = append(args, v)
	}
	args = append(args, boolInt(k.Admin))
	var out store.Key
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `INSERT INTO keys (`+keyColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, `+nextRev+`, ?)
			RETURNING `+keyColumns, args...)
		var err error
		out, err = scanKey(row)
		return err
	})
	if err != nil {
		return store.Key{}, wrap("insert key", err)
	}
	return out, nil
}

// getKey looks a key up by ID, then by name, using q (the DB or a tx).
func getKey(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, idOrName string) (store.Key, error) {
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys
		WHERE id = ? OR name = ?
		ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName))
}

// GetKey implements store.Keys.
func (s *Store) GetKey(ctx context.Context, idOrName string) (store.Key, error) {
	k, err := getKey(ctx, s.db, idOrName)
	if err != nil {
		return store.Key{}, wrap("get key", err)
	}
	return k, nil
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	keys, err := s.queryKeys(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("list keys", err)
	}
	return keys, nil
}

// KeysChangedSince implements store.Keys.
func (s *Store) KeysChangedSince(ctx context.Context, rev int64) ([]store.Key, error) {
	keys, err := s.queryKeys(ctx, `SELECT `+keyColumns+` FROM keys WHERE rev > ? ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("keys changed since", err)
	}
	return keys, nil
}

// queryKeys runs a query selecting keyColumns and scans every row.
func (s *Store) queryKeys(ctx context.Context, query string, args ...any) ([]store.Key, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, idOrName string, at time.Time) (store.Key, error) {
	if at.IsZero() {
		at = time.Now()
	}
	atv, err := encodeTime(at)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: revoke key: %w", err)
	}
	var out store.Key
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, idOrName)
		if err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			out = k
			return nil
		}
		out, err = scanKey(tx.QueryRowContext(ctx, `UPDATE keys
			SET revoked_at = ?, updated_at = ?, rev = `+nextRev+`
			WHERE id = ?
			RETURNING `+keyColumns, atv, atv, k.ID))
		return err
	})
	if err != nil {
		return store.Key{}, wrap("revoke key", err)
	}
	return out, nil
}
