// Package store defines the records tollgate persists, the sentinel errors
// every storage backend returns, and the small interfaces a backend
// implements. It imports only the standard library; concrete backends live
// in subpackages (store/sqlite, later store/postgres) and are checked
// against the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (possibly wrapped) when the requested record does
// not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned (possibly wrapped) when a write would violate a
// uniqueness rule, such as a duplicate key ID, name or hash.
var ErrConflict = errors.New("store: conflict")

// ErrInvalid is returned (possibly wrapped) when a record passed to a write
// method is missing a required field or holds a value the backend cannot
// represent.
var ErrInvalid = errors.New("store: invalid record")

// Keys stores API key records. Implementations are safe for concurrent use.
type Keys interface {
	// CreateKey inserts k. ID, Name and Hash are required. The store
	// assigns Rev, sets CreatedAt to the current time if it is zero and
	// UpdatedAt to CreatedAt if it is zero, and returns the record as it
	// was stored. A duplicate ID, Name or Hash yields ErrConflict.
	CreateKey(ctx context.Context, k Key) (Key, error)
	// GetKey returns the key whose ID or, failing that, whose Name equals
	// idOrName, or ErrNotFound.
	GetKey(ctx context.Context, idOrName string) (Key, error)
	// ListKeys returns every key ordered by CreatedAt, then ID.
	ListKeys(ctx context.Context) ([]Key, error)
	// UpdateKey replaces the mutable fields of the key with k.ID (Name,
	// Hash and Last4 for a rotation, Models, Admin, Owner, Group, Env,
	// IPAllow, Limits, LogBodies, ExpiresAt), sets UpdatedAt to k.UpdatedAt (the
	// current time if zero), assigns a new Rev and returns the stored
	// record. The key is found by ID only. RevokedAt and CreatedAt are
	// kept; k.RevokedAt, k.CreatedAt and k.Rev are ignored. ID, Name and
	// Hash are required (ErrInvalid). ErrNotFound if there is no such key,
	// ErrConflict on a duplicate Name or Hash. After a rotation the old
	// hash is free for other keys.
	UpdateKey(ctx context.Context, k Key) (Key, error)
	// RevokeKey marks the key revoked at the given time (the current time
	// if at is zero), sets UpdatedAt to the same time and assigns a new
	// Rev. Revoking an already revoked key changes nothing and returns the
	// stored record, so the first revocation time is kept. Unknown keys
	// yield ErrNotFound.
	RevokeKey(ctx context.Context, idOrName string, at time.Time) (Key, error)
	// KeysChangedSince returns the keys whose Rev is greater than rev,
	// ordered by Rev. A rev of 0 returns every key.
	KeysChangedSince(ctx context.Context, rev int64) ([]Key, error)
}

// RequestLogs stores request log rows. Implementations are safe for
// concurrent use.
type RequestLogs interface {
	// InsertRequestLogs writes rows, the attempts in their Timeline and
	// their bodies (see RequestLog.HasBodies), in one transaction: either
	// all are stored or none. An empty slice is a no-op.
	InsertRequestLogs(ctx context.Context, rows []RequestLog) error
	// ListRequestLogs returns the rows matching f, newest first (ties
	// broken by insertion order, latest first), at most f.EffectiveLimit(),
	// with their bodies when f.Bodies is set.
	ListRequestLogs(ctx context.Context, f LogFilter) ([]RequestLog, error)
	LogReader
	LogPruner
}

// Store is everything a storage backend provides. Consumers should depend
// on the narrowest interface they need (often one they declare themselves)
// rather than on Store.
type Store interface {
	Keys
	RequestLogs
	Groups
	Prices
	Balances
	// Close releases the backend's resources. It is safe to call more
	// than once.
	Close() error
}
