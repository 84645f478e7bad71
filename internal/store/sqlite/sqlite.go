// Package sqlite implements the store interfaces on SQLite using the pure-Go
// modernc.org/sqlite driver, so tollgate builds with CGO_ENABLED=0.
//
// Storage conventions: times are INTEGER unix nanoseconds in UTC, with NULL
// for a zero time (so representable times run from 1677 to 2262); durations
// are INTEGER microseconds; model lists are JSON text. Every connection runs
// with journal_mode=WAL, busy_timeout=5000 ms, foreign_keys=ON,
// synchronous=NORMAL and temp_store=MEMORY (the statement journal of the
// request log's multi-row inserts stays in memory instead of a temporary
// file written page by page), and every read-write transaction starts with BEGIN
// IMMEDIATE, so several processes (the server and the keys CLI, say) can
// share one database file safely.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate/internal/store"
)

// MemoryPath is the path that opens a private in-memory database. Each call
// to Open with it gets a new, empty database.
const MemoryPath = ":memory:"

// Store is a SQLite-backed store.Store. It is safe for concurrent use.
type Store struct {
	db        *sql.DB
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// any pending migrations. The parent directory is created if missing. path
// is a file system path, or MemoryPath for a private in-memory database
// (useful in tests). The ctx bounds only the work done by Open.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	params := url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(ON)", "synchronous(NORMAL)", "temp_store(MEMORY)"} {
		params.Add("_pragma", p)
	}
	params.Set("_txlock", "immediate")

	var dsn string
	memory := path == MemoryPath
	if memory {
		dsn = MemoryPath + "?" + params.Encode()
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: create directory: %w", path, err)
		}
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: params.Encode()}
		dsn = u.String()
	}

	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		// Every connection to ":memory:" is a separate database, so keep
		// exactly one connection and never let it be closed while idle.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	s := &Store{db: db}
	if err := s.migrateRetrying(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// migrateRetrying applies the migrations, retrying while another process
// holds the database during its own first open: SQLite may answer BUSY at
// once, without waiting for busy_timeout, while a new file switches to WAL.
func (s *Store) migrateRetrying(ctx context.Context) error {
	delay := 5 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.migrate(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// Close closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// wrap adds op as context to err and maps driver errors to the store
// sentinels: a UNIQUE or PRIMARY KEY constraint failure becomes
// store.ErrConflict and sql.ErrNoRows becomes store.ErrNotFound. The
// original error stays in the chain.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrConflict, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// inTx runs fn in a read-write transaction (BEGIN IMMEDIATE), committing if
// fn returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// queryAll runs query on db and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
