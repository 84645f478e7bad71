package auth_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

// fakeGroups is an in-memory GroupSource that assigns revs like a store.
type fakeGroups struct {
	mu     sync.Mutex
	groups map[string]store.Group
	rev    int64
	err    error
	calls  []int64
}

func (f *fakeGroups) put(g store.Group) store.Group {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	g.Rev = f.rev
	f.groups[g.Name] = g
	return g
}

func (f *fakeGroups) GroupsChangedSince(_ context.Context, rev int64) ([]store.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, rev)
	if f.err != nil {
		return nil, f.err
	}
	var out []store.Group
	for _, g := range f.groups {
		if g.Rev > rev {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b store.Group) int { return int(a.Rev - b.Rev) })
	return out, nil
}

func TestGroupCache(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, src *fakeGroups, c *auth.GroupCache)
	}{
		{"initial load then incremental", func(t *testing.T, src *fakeGroups, c *auth.GroupCache) {
			src.put(store.Group{Name: "gold", Limits: store.Limits{RPM: 100}})
			mustRefreshGroups(t, c)
			src.put(store.Group{Name: "gold", Limits: store.Limits{RPM: 200}})
			src.put(store.Group{Name: "free", Models: []string{"sim-*"}})
			mustRefreshGroups(t, c)
			if want := []int64{0, 1}; !slices.Equal(src.calls, want) {
				t.Errorf("GroupsChangedSince calls = %v, want %v", src.calls, want)
			}
			if g, ok := c.Get("gold"); !ok || g.Limits.RPM != 200 {
				t.Errorf("Get(gold) = %+v, %v, want RPM 200", g, ok)
			}
			if g, ok := c.Get("free"); !ok || !slices.Equal(g.Models, []string{"sim-*"}) {
				t.Errorf("Get(free) = %+v, %v", g, ok)
			}
			if _, ok := c.Get("nope"); ok {
				t.Error("Get(nope) found a group")
			}
			if c.Len() != 2 {
				t.Errorf("Len() = %d, want 2", c.Len())
			}
		}},
		{"error keeps last good state", func(t *testing.T, src *fakeGroups, c *auth.GroupCache) {
			src.put(store.Group{Name: "gold", Limits: store.Limits{RPM: 100}})
			mustRefreshGroups(t, c)
			src.err = context.DeadlineExceeded
			if err := c.Refresh(ctx); err == nil {
				t.Fatal("Refresh succeeded on a failing source")
			}
			if _, ok := c.Get("gold"); !ok {
				t.Error("Get(gold) lost after a failed refresh")
			}
		}},
		{"apply is immediate; stale apply is ignored", func(t *testing.T, src *fakeGroups, c *auth.GroupCache) {
			old := src.put(store.Group{Name: "gold", Limits: store.Limits{RPM: 1}})
			newer := src.put(store.Group{Name: "gold", Limits: store.Limits{RPM: 2}})
			c.Apply(newer)
			c.Apply(old)
			if g, _ := c.Get("gold"); g.Limits.RPM != 2 {
				t.Errorf("RPM = %d after a stale Apply, want 2", g.Limits.RPM)
			}
			mustRefreshGroups(t, c)
			if want := []int64{0}; !slices.Equal(src.calls, want) {
				t.Errorf("GroupsChangedSince calls = %v, want %v (Apply must not move the cursor)", src.calls, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeGroups{groups: map[string]store.Group{}}
			tt.run(t, src, auth.NewGroupCache(src, auth.GroupCacheOptions{}))
		})
	}
}

func mustRefreshGroups(t *testing.T, c *auth.GroupCache) {
	t.Helper()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

// TestGroupCacheRun checks that Run polls on its interval, on a fake clock.
func TestGroupCacheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeGroups{groups: map[string]store.Group{}}
		c := auth.NewGroupCache(src, auth.GroupCacheOptions{Interval: time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()
		src.put(store.Group{Name: "gold"})
		synctest.Wait()
		if _, ok := c.Get("gold"); ok {
			t.Fatal("group visible before the first tick")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, ok := c.Get("gold"); !ok {
			t.Fatal("group not visible after the first tick")
		}
		cancel()
		<-done
	})
}
