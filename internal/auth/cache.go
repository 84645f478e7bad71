package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// KeySource is where a Cache pulls key changes from. Store backends satisfy
// it.
type KeySource interface {
	// KeysChangedSince returns keys whose Rev is greater than rev, ordered
	// by Rev; rev 0 returns every key.
	KeysChangedSince(ctx context.Context, rev int64) ([]store.Key, error)
}

// Every store backend's key side is a KeySource.
var _ KeySource = store.Keys(nil)

// DefaultRefreshInterval is the poll period Cache.Run uses when
// CacheOptions.Interval is zero.
const DefaultRefreshInterval = 250 * time.Millisecond

// CacheOptions configures a Cache. The zero value is ready to use.
type CacheOptions struct {
	// Interval is how often Run polls the source. Zero or negative means
	// DefaultRefreshInterval.
	Interval time.Duration
	// Now returns the current time, used to check expiry. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives refresh errors and skipped records. Nil discards.
	Logger *slog.Logger
}

// entry is one cached key. Entries are immutable once published.
type entry struct {
	principal Principal
	hash      [sha256.Size]byte
	revoked   bool
	rev       int64
}

// table is an immutable snapshot of the cache; writers copy it, change the
// copy and publish it, so readers need no lock.
type table struct {
	byHash map[[sha256.Size]byte]*entry
	byID   map[string]*entry
}

// Cache holds every key in memory so that authenticating a request never
// touches the store. Reads (Lookup, Len) are lock-free loads of an
// immutable snapshot; writes (Refresh, Apply) copy the snapshot. Revoked
// keys stay in the cache so Lookup can say "revoked" rather than "unknown".
// A Cache is safe for concurrent use.
type Cache struct {
	now func() time.Time
	log *slog.Logger

	snap atomic.Pointer[table]

	writeMu sync.Mutex // serialises snapshot writers

	poll poller[store.Key]
}

// NewCache returns an empty Cache that pulls changes from src (which must
// not be nil). Call Refresh once before serving, then Run in a goroutine
// owned by the caller.
func NewCache(src KeySource, opts CacheOptions) *Cache {
	c := &Cache{now: opts.Now, log: opts.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.poll = poller[store.Key]{
		noun: "key",
		fetch: func(ctx context.Context, rev int64) ([]store.Key, error) {
			return src.KeysChangedSince(ctx, rev)
		},
		revOf:    func(k store.Key) int64 { return k.Rev },
		apply:    c.Apply,
		interval: refreshInterval(opts.Interval),
		log:      c.log,
	}
	c.snap.Store(&table{byHash: map[[sha256.Size]byte]*entry{}, byID: map[string]*entry{}})
	return c
}

// Refresh pulls the keys changed since the highest Rev seen so far (all
// keys on the first call) and applies them. On error the cache keeps
// serving its previous state.
func (c *Cache) Refresh(ctx context.Context) error {
	return c.poll.refresh(ctx)
}

// Run calls Refresh every Interval until ctx is done. Errors are logged and
// the last good state keeps being served. Run starts no goroutines; the
// caller owns the one it runs in.
func (c *Cache) Run(ctx context.Context) {
	c.poll.run(ctx)
}

// refreshInterval returns d, or DefaultRefreshInterval if d is not
// positive.
func refreshInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultRefreshInterval
	}
	return d
}

// Apply puts keys into the cache at once, for records this process has
// just written. A record older (lower Rev) than the cached one for the
// same ID is ignored. Apply does not move the Refresh cursor, so the next
// Refresh still sees every change made by other writers.
func (c *Cache) Apply(keys ...store.Key) {
	if len(keys) == 0 {
		return
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	old := c.snap.Load()
	next := &table{byHash: maps.Clone(old.byHash), byID: maps.Clone(old.byID)}
	for _, k := range keys {
		e, err := newEntry(k)
		if e == nil {
			c.log.LogAttrs(context.Background(), slog.LevelError, "auth: skipping key record",
				slog.String("key_id", k.ID), slog.Any("err", err))
			continue
		}
		if err != nil {
			c.log.LogAttrs(context.Background(), slog.LevelError, "auth: key has a malformed IP allow-list; it is usable from no address until fixed",
				slog.String("key_id", k.ID), slog.Any("err", err))
		}
		if prev, ok := next.byID[k.ID]; ok {
			if prev.rev > e.rev {
				continue
			}
			delete(next.byHash, prev.hash)
		}
		next.byID[k.ID] = e
		next.byHash[e.hash] = e
	}
	c.snap.Store(next)
}

// newEntry converts a stored key into a cache entry. A nil entry means
// the record is unusable and must be skipped; an entry with an error means
// the key's IP allow-list is malformed and the entry allows no address.
func newEntry(k store.Key) (*entry, error) {
	e := &entry{
		principal: Principal{
			KeyID:     k.ID,
			Name:      k.Name,
			Masked:    Mask(k.Last4),
			Models:    append([]string(nil), k.Models...),
			Admin:     k.Admin,
			ExpiresAt: k.ExpiresAt,
			Owner:     k.Owner,
			Group:     k.Group,
			Env:       k.Env,
			Limits:    k.Limits,
			LogBodies: k.LogBodies,
		},
		revoked: !k.RevokedAt.IsZero(),
		rev:     k.Rev,
	}
	if n, err := hex.Decode(e.hash[:], []byte(k.Hash)); err != nil || n != sha256.Size || len(k.Hash) != 2*sha256.Size {
		return nil, fmt.Errorf("hash is not hex SHA-256 (%d chars)", len(k.Hash))
	}
	ips, err := ParseIPAllow(k.IPAllow)
	if err != nil {
		e.principal.ipDenyAll = true
		return e, err
	}
	e.principal.IPAllow = ips
	return e, nil
}

// Lookup authenticates secret against the cache. It returns ErrMissingKey
// for an empty secret, ErrInvalidKey for a malformed or unknown one,
// ErrRevokedKey or ErrExpiredKey for a key that exists but may not be used,
// and the key's Principal otherwise. It does not allocate.
func (c *Cache) Lookup(secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrMissingKey
	}
	if !LooksLikeKey(secret) {
		return Principal{}, ErrInvalidKey
	}
	// Hash from a stack copy: converting the string directly would
	// allocate, and LooksLikeKey has fixed the length.
	var buf [SecretLen]byte
	copy(buf[:], secret)
	e, ok := c.snap.Load().byHash[sha256.Sum256(buf[:])]
	switch {
	case !ok:
		return Principal{}, ErrInvalidKey
	case e.revoked:
		return Principal{}, ErrRevokedKey
	case !e.principal.ExpiresAt.IsZero() && !c.now().Before(e.principal.ExpiresAt):
		return Principal{}, ErrExpiredKey
	}
	return e.principal, nil
}

// Len returns the number of keys in the cache, revoked ones included.
func (c *Cache) Len() int {
	return len(c.snap.Load().byID)
}
