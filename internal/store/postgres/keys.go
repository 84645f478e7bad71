package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tollgate/tollgate/internal/store"
)

const keyColumns = `id, name, hash, last4, models, admin, owner, group_name, env, ip_allow, limits,
	expires_at, revoked_at, created_at, updated_at, rev, log_bodies`

// scanKey reads one row selected with keyColumns.
func scanKey(row pgx.Row) (store.Key, error) {
	var (
		k                                  store.Key
		expires, revoked, created, updated pgtype.Timestamptz
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &k.Last4, &k.Models, &k.Admin, &k.Owner, &k.Group, &k.Env,
		&k.IPAllow, &k.Limits, &expires, &revoked, &created, &updated, &k.Rev, &k.LogBodies); err != nil {
		return store.Key{}, err
	}
	k.Models = decodeList(k.Models)
	k.IPAllow = decodeList(k.IPAllow)
	k.ExpiresAt = decodeTime(expires)
	k.RevokedAt = decodeTime(revoked)
	k.CreatedAt = decodeTime(created)
	k.UpdatedAt = decodeTime(updated)
	return k, nil
}

// keyArgs returns the named arguments for every column of k but rev.
func keyArgs(k store.Key) (pgx.NamedArgs, error) {
	times, err := encodeTimes(k.ExpiresAt, k.RevokedAt, k.CreatedAt, k.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return pgx.NamedArgs{
		"id": k.ID, "name": k.Name, "hash": k.Hash, "last4": k.Last4,
		"models": encodeList(k.Models), "admin": k.Admin, "owner": k.Owner, "group_name": k.Group,
		"env": k.Env, "ip_allow": encodeList(k.IPAllow), "limits": k.Limits, "log_bodies": k.LogBodies,
		"expires_at": times[0], "revoked_at": times[1], "created_at": times[2], "updated_at": times[3],
	}, nil
}

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.Key) (store.Key, error) {
	if k.ID == "" || k.Name == "" || k.Hash == "" {
		return store.Key{}, fmt.Errorf("postgres: insert key: %w: id, name and hash are required", store.ErrInvalid)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	if k.UpdatedAt.IsZero() {
		k.UpdatedAt = k.CreatedAt
	}
	args, err := keyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("postgres: insert key: %w", err)
	}
	var out store.Key
	err = s.writeTx(ctx, lockKeys, func(tx pgx.Tx) error {
		var err error
		out, err = scanKey(tx.QueryRow(ctx, `INSERT INTO keys (`+keyColumns+`)
			VALUES (@id, @name, @hash, @last4, @models, @admin, @owner, @group_name, @env, @ip_allow, @limits,
				@expires_at, @revoked_at, @created_at, @updated_at, `+nextRev("keys")+`, @log_bodies)
			RETURNING `+keyColumns, args))
		return err
	})
	if err != nil {
		return store.Key{}, wrap("insert key", err)
	}
	return out, nil
}

// UpdateKey implements store.Keys. UpdatedAt is k.UpdatedAt, or the
// current time if that is zero.
func (s *Store) UpdateKey(ctx context.Context, k store.Key) (store.Key, error) {
	if k.ID == "" || k.Name == "" || k.Hash == "" {
		return store.Key{}, fmt.Errorf("postgres: update key: %w: id, name and hash are required", store.ErrInvalid)
	}
	if k.UpdatedAt.IsZero() {
		k.UpdatedAt = time.Now()
	}
	args, err := keyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("postgres: update key: %w", err)
	}
	var out store.Key
	err = s.writeTx(ctx, lockKeys, func(tx pgx.Tx) error {
		var err error
		out, err = scanKey(tx.QueryRow(ctx, `UPDATE keys SET
				name = @name, hash = @hash, last4 = @last4, models = @models, admin = @admin, owner = @owner,
				group_name = @group_name, env = @env, ip_allow = @ip_allow, limits = @limits,
				log_bodies = @log_bodies, expires_at = @expires_at, updated_at = @updated_at, rev = `+nextRev("keys")+`
			WHERE id = @id
			RETURNING `+keyColumns, args))
		return err
	})
	if err != nil {
		return store.Key{}, wrap("update key", err)
	}
	return out, nil
}

// getKey looks a key up by ID, then by name, using q (the pool or a tx).
func getKey(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, idOrName string) (store.Key, error) {
	return scanKey(q.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys
		WHERE id = $1 OR name = $1
		ORDER BY id = $1 DESC LIMIT 1`, idOrName))
}

// GetKey implements store.Keys.
func (s *Store) GetKey(ctx context.Context, idOrName string) (store.Key, error) {
	k, err := getKey(ctx, s.pool, idOrName)
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
	keys, err := s.queryKeys(ctx, `SELECT `+keyColumns+` FROM keys WHERE rev > $1 ORDER BY rev`, rev)
	if err != nil {
		return nil, wrap("keys changed since", err)
	}
	return keys, nil
}

// queryKeys runs a query selecting keyColumns and scans every row.
func (s *Store) queryKeys(ctx context.Context, sql string, args ...any) ([]store.Key, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Key, error) { return scanKey(r) })
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, idOrName string, at time.Time) (store.Key, error) {
	if at.IsZero() {
		at = time.Now()
	}
	atv, err := encodeTime(at)
	if err != nil {
		return store.Key{}, fmt.Errorf("postgres: revoke key: %w", err)
	}
	var out store.Key
	err = s.writeTx(ctx, lockKeys, func(tx pgx.Tx) error {
		k, err := getKey(ctx, tx, idOrName)
		if err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			out = k
			return nil
		}
		out, err = scanKey(tx.QueryRow(ctx, `UPDATE keys
			SET revoked_at = $1, updated_at = $1, rev = `+nextRev("keys")+`
			WHERE id = $2
			RETURNING `+keyColumns, atv, k.ID))
		return err
	})
	if err != nil {
		return store.Key{}, wrap("revoke key", err)
	}
	return out, nil
}
