package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

const keyColumns = `id, name, hash, last4, models, expires_at, revoked_at, created_at, updated_at, rev, admin,
	owner, group_name, env, ip_allow, limits, log_bodies`

// nextRev returns the SQL expression for the next change sequence number of
// table (a constant name, never user input). It is evaluated inside the
// write transaction, which BEGIN IMMEDIATE serialises across connections
// and processes, so revs are strictly increasing per table. Rows of the
// versioned tables are never deleted, so MAX(rev) never goes backwards.
func nextRev(table string) string {
	return `(SELECT COALESCE(MAX(rev), 0) + 1 FROM ` + table + `)`
}

// rowScanner is satisfied by *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanKey reads one row selected with keyColumns.
func scanKey(r rowScanner) (store.Key, error) {
	var (
		k                                  store.Key
		models, ipAllow, limits            string
		admin, logBodies                   int64
		expires, revoked, created, updated sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Last4, &models,
		&expires, &revoked, &created, &updated, &k.Rev, &admin,
		&k.Owner, &k.Group, &k.Env, &ipAllow, &limits, &logBodies); err != nil {
		return store.Key{}, err
	}
	var err error
	if k.Models, err = decodeList(models); err != nil {
		return store.Key{}, fmt.Errorf("key %s: models: %w", k.ID, err)
	}
	if k.IPAllow, err = decodeList(ipAllow); err != nil {
		return store.Key{}, fmt.Errorf("key %s: ip allow: %w", k.ID, err)
	}
	if k.Limits, err = decodeLimits(limits); err != nil {
		return store.Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.Admin = admin != 0
	k.LogBodies = logBodies != 0
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
	a, err := encodeKey(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: insert key: %w", err)
	}
	var out store.Key
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `INSERT INTO keys (`+keyColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, `+nextRev("keys")+`, ?, ?, ?, ?, ?, ?, ?)
			RETURNING `+keyColumns,
			k.ID, k.Name, k.Hash, k.Last4, a.models, a.expires, a.revoked, a.created, a.updated,
			boolInt(k.Admin), k.Owner, k.Group, k.Env, a.ipAllow, a.limits, boolInt(k.LogBodies))
		var err error
		out, err = scanKey(row)
		return err
	})
	if err != nil {
		return store.Key{}, wrap("insert key", err)
	}
	return out, nil
}

// keyArgs holds the encoded forms of a key's non-scalar fields.
type keyArgs struct {
	models, ipAllow, limits            string
	expires, revoked, created, updated any
}

// encodeKey encodes k's lists, limits and times for a write.
func encodeKey(k store.Key) (keyArgs, error) {
	var (
		a   keyArgs
		err error
	)
	if a.models, err = encodeList(k.Models); err != nil {
		return keyArgs{}, fmt.Errorf("models: %w", err)
	}
	if a.ipAllow, err = encodeList(k.IPAllow); err != nil {
		return keyArgs{}, fmt.Errorf("ip allow: %w", err)
	}
	if a.limits, err = encodeLimits(k.Limits); err != nil {
		return keyArgs{}, err
	}
	for _, f := range []struct {
		dst *any
		t   time.Time
	}{{&a.expires, k.ExpiresAt}, {&a.revoked, k.RevokedAt}, {&a.created, k.CreatedAt}, {&a.updated, k.UpdatedAt}} {
		if *f.dst, err = encodeTime(f.t); err != nil {
			return keyArgs{}, err
		}
	}
	return a, nil
}

// UpdateKey implements store.Keys. It is one UPDATE statement, so a
// missing key yields no row (ErrNotFound) and a duplicate name or hash a
// UNIQUE failure (ErrConflict).
func (s *Store) UpdateKey(ctx context.Context, k store.Key) (store.Key, error) {
	if k.ID == "" || k.Name == "" || k.Hash == "" {
		return store.Key{}, fmt.Errorf("sqlite: update key: %w: id, name and hash are required", store.ErrInvalid)
	}
	if k.UpdatedAt.IsZero() {
		k.UpdatedAt = time.Now()
	}
	a, err := encodeKey(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: update key: %w", err)
	}
	var out store.Key
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanKey(tx.QueryRowContext(ctx, `UPDATE keys
			SET name = ?, hash = ?, last4 = ?, models = ?, admin = ?, owner = ?, group_name = ?, env = ?,
				ip_allow = ?, limits = ?, log_bodies = ?, expires_at = ?, updated_at = ?, rev = `+nextRev("keys")+`
			WHERE id = ?
			RETURNING `+keyColumns,
			k.Name, k.Hash, k.Last4, a.models, boolInt(k.Admin), k.Owner, k.Group, k.Env,
			a.ipAllow, a.limits, boolInt(k.LogBodies), a.expires, a.updated, k.ID))
		return err
	})
	if err != nil {
		return store.Key{}, wrap("update key", err)
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
	keys, err := queryAll(ctx, s.db, scanKey, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("list keys", err)
	}
	return keys, nil
}

// KeysChangedSince implements store.Keys.
func (s *Store) KeysChangedSince(ctx context.Context, rev int64) ([]store.Key, error) {
	keys, err := queryAll(ctx, s.db, scanKey, `SELECT `+keyColumns+` FROM keys WHERE rev > ? ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("keys changed since", err)
	}
	return keys, nil
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
			SET revoked_at = ?, updated_at = ?, rev = `+nextRev("keys")+`
			WHERE id = ?
			RETURNING `+keyColumns, atv, atv, k.ID))
		return err
	})
	if err != nil {
		return store.Key{}, wrap("revoke key", err)
	}
	return out, nil
}
