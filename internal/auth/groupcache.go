package auth

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// GroupSource is where a GroupCache pulls group changes from. Store
// backends satisfy it.
type GroupSource interface {
	// GroupsChangedSince returns groups whose Rev is greater than rev,
	// ordered by Rev; rev 0 returns every group.
	GroupsChangedSince(ctx context.Context, rev int64) ([]store.Group, error)
}

// Every store backend's group side is a GroupSource.
var _ GroupSource = store.Groups(nil)

// GroupCacheOptions configures a GroupCache. The zero value is ready to
// use.
type GroupCacheOptions struct {
	// Interval is how often Run polls the source. Zero or negative means
	// DefaultRefreshInterval.
	Interval time.Duration
	// Logger receives refresh errors. Nil discards.
	Logger *slog.Logger
}

// GroupCache holds every group in memory so that the request path can
// resolve a key's group without touching the store. Get is a lock-free
// load of an immutable map; Refresh and Apply copy it. The groups handed
// out share their Models slices with the cache and must not be modified.
// A GroupCache is safe for concurrent use.
type GroupCache struct {
	snap atomic.Pointer[map[string]store.Group]

	writeMu sync.Mutex // serialises snapshot writers

	poll poller[store.Group]
}

// NewGroupCache returns an empty GroupCache that pulls changes from src
// (which must not be nil). Call Refresh once before serving, then Run in a
// goroutine owned by the caller.
func NewGroupCache(src GroupSource, opts GroupCacheOptions) *GroupCache {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &GroupCache{}
	c.poll = poller[store.Group]{
		noun: "group",
		fetch: func(ctx context.Context, rev int64) ([]store.Group, error) {
			return src.GroupsChangedSince(ctx, rev)
		},
		revOf:    func(g store.Group) int64 { return g.Rev },
		apply:    c.Apply,
		interval: refreshInterval(opts.Interval),
		log:      log,
	}
	c.snap.Store(&map[string]store.Group{})
	return c
}

// Refresh pulls the groups changed since the highest Rev seen so far (all
// groups on the first call) and applies them. On error the cache keeps
// serving its previous state.
func (c *GroupCache) Refresh(ctx context.Context) error {
	return c.poll.refresh(ctx)
}

// Run calls Refresh every Interval until ctx is done. Errors are logged and
// the last good state keeps being served. Run starts no goroutines; the
// caller owns the one it runs in.
func (c *GroupCache) Run(ctx context.Context) {
	c.poll.run(ctx)
}

// Apply puts groups into the cache at once, for records this process has
// just written. A record older (lower Rev) than the cached one of the same
// name is ignored. Apply does not move the Refresh cursor.
func (c *GroupCache) Apply(groups ...store.Group) {
	if len(groups) == 0 {
		return
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	next := maps.Clone(*c.snap.Load())
	for _, g := range groups {
		if prev, ok := next[g.Name]; ok && prev.Rev > g.Rev {
			continue
		}
		next[g.Name] = g
	}
	c.snap.Store(&next)
}

// Get returns the group with the given name, if the cache holds it.
func (c *GroupCache) Get(name string) (store.Group, bool) {
	g, ok := (*c.snap.Load())[name]
	return g, ok
}

// Len returns the number of groups in the cache.
func (c *GroupCache) Len() int {
	return len(*c.snap.Load())
}
