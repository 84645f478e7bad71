// Package postgres implements the store interfaces on PostgreSQL using pgx,
// so several tollgate instances can share keys, groups, prices, balances and
// the request log.
//
// Storage conventions: times are timestamptz with microsecond precision
// (finer parts are truncated), with NULL for a zero time.Time, and are
// returned in UTC; durations are BIGINT microseconds; Money is BIGINT;
// model and CIDR lists are text[]; Limits are JSONB. Identifier columns use
// the "C" collation, so listings are ordered by byte value whatever the
// database's locale. Times outside years 1 to 9999 yield store.ErrInvalid,
// as does text PostgreSQL cannot hold (invalid UTF-8, a NUL byte), except
// in request log rows, where such bytes become U+FFFD so that one odd
// client header cannot cost a whole batch.
//
// Change sequence numbers (Rev) are assigned as MAX(rev)+1 inside the write
// transaction while it holds a table-specific transaction advisory lock.
// Writers of one table are therefore serialised across every instance, and
// a Rev becomes visible only after every smaller Rev of that table has: a
// poller that has seen Rev n never misses a record that later appears with
// a Rev at or below n. Those writes are rare admin operations, so the lock
// costs nothing on the request path.
//
// Schema migrations are embedded, recorded in schema_migrations and applied
// by Open in one transaction under an advisory lock, so instances starting
// at the same time do not race. Tables are created in the first schema of
// the connection's search_path.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/internal/store"
)

// Pool defaults, used when the DSN does not set them.
const (
	// defaultMaxConns bounds the connections one Store opens. Writes to
	// keys, groups, prices and credits are serialised anyway, and request
	// logs arrive in batches, so a small pool serves a busy instance while
	// leaving room for several instances under PostgreSQL's default
	// max_connections of 100.
	defaultMaxConns = 8
	// defaultConnectTimeout bounds establishing one connection.
	defaultConnectTimeout = 10 * time.Second
	// defaultMaxConnIdleTime closes connections idle for longer.
	defaultMaxConnIdleTime = 5 * time.Minute
)

// Transaction advisory lock keys. They are shared by every schema in a
// database ("toll" in the high 32 bits, a table number in the low ones).
const (
	lockMigrate int64 = 0x746f6c6c_00000001
	lockKeys    int64 = 0x746f6c6c_00000002
	lockGroups  int64 = 0x746f6c6c_00000003
	lockPrices  int64 = 0x746f6c6c_00000004
	lockCredits int64 = 0x746f6c6c_00000005
)

// SQLSTATE codes mapped to store sentinels.
const (
	codeUniqueViolation     = "23505"
	codeCharNotInRepertoire = "22021" // invalid UTF-8 or a NUL byte in text
	codeDatetimeOverflow    = "22008"
	codeNumericOutOfRange   = "22003"
)

// Store is a PostgreSQL-backed store.Store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database named by dsn (a URL such as
// "postgres://user:pass@host:5432/db?sslmode=disable" or a key=value
// string, as accepted by pgxpool.ParseConfig, including its pool_* settings)
// and applies any pending migrations. Unless the DSN says otherwise the pool
// holds at most 8 connections, each connection attempt times out after 10s
// and idle connections close after 5 minutes. The ctx bounds only the work
// done by Open. The caller must Close the returned Store.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if !strings.Contains(dsn, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = defaultMaxConnIdleTime
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return s, nil
}

// Close closes every connection of the pool, waiting for those in use to be
// released. It is safe to call more than once and always returns nil.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// wrap adds op as context to err and maps driver errors to the store
// sentinels: a unique violation becomes store.ErrConflict, pgx.ErrNoRows
// store.ErrNotFound, and text PostgreSQL cannot hold (invalid UTF-8, a NUL
// byte) or an out-of-range time or number store.ErrInvalid. The original
// error stays in the chain.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrConflict, err)
		case codeCharNotInRepertoire, codeDatetimeOverflow, codeNumericOutOfRange:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrInvalid, err)
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// writeTx runs fn in a read-write transaction that first takes the
// transaction advisory lock lock, committing if fn returns nil and rolling
// back otherwise. The lock is taken by a statement of its own, so every
// statement of fn runs on a snapshot that already includes the commits of
// the lock's previous holders; MAX(rev)+1 computed there is therefore above
// every committed rev. PostgreSQL makes a commit visible before it releases
// the transaction's locks, so the next writer's rev cannot become visible
// before this one's.
func (s *Store) writeTx(ctx context.Context, lock int64, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return fn(tx)
	})
}

// nextRev returns the SQL expression for the next change sequence number
// of table. It must be evaluated in a writeTx holding the table's lock.
func nextRev(table string) string {
	return `(SELECT COALESCE(MAX(rev), 0) + 1 FROM ` + table + `)`
}
