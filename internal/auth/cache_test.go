package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// fakeSource is an in-memory KeySource that assigns revs like a store.
type fakeSource struct {
	mu    sync.Mutex
	keys  map[string]store.Key
	rev   int64
	err   error   // returned by the next KeysChangedSince calls while set
	calls []int64 // rev argument of each call
}

func newFakeSource() *fakeSource { return &fakeSource{keys: map[string]store.Key{}} }

func (f *fakeSource) put(k store.Key) store.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	k.Rev = f.rev
	f.keys[k.ID] = k
	return k
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSource) KeysChangedSince(_ context.Context, rev int64) ([]store.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, rev)
	if f.err != nil {
		return nil, f.err
	}
	var out []store.Key
	for _, k := range f.keys {
		if k.Rev > rev {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b store.Key) int { return int(a.Rev - b.Rev) })
	return out, nil
}

// newKey returns a fresh secret and the record that would be stored for it.
func newKey(t testing.TB, n int) (string, store.Key) {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return secret, store.Key{
		ID:    fmt.Sprintf("key_%016x", n),
		Name:  fmt.Sprintf("key-%d", n),
		Hash:  auth.Hash(secret),
		Last4: auth.Last4(secret),
	}
}

func TestCacheLookup(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	src := newFakeSource()
	mk := func(n int, mutate func(k *store.Key)) string {
		secret, k := newKey(t, n)
		mutate(&k)
		src.put(k)
		return secret
	}
	active := mk(1, func(k *store.Key) { k.Models, k.LogBodies = []string{"gpt-*"}, true })
	revoked := mk(2, func(k *store.Key) { k.RevokedAt = now.Add(-time.Hour) })
	expired := mk(3, func(k *store.Key) { k.ExpiresAt = now })
	notYet := mk(4, func(k *store.Key) { k.ExpiresAt = now.Add(time.Nanosecond) })
	revokedAndExpired := mk(5, func(k *store.Key) { k.RevokedAt, k.ExpiresAt = now, now.Add(-time.Hour) })
	unknown, _ := newKey(t, 6)

	c := auth.NewCache(src, auth.CacheOptions{Now: func() time.Time { return now }})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		secret  string
		wantErr error
		wantID  string
	}{
		{"active", active, nil, fmt.Sprintf("key_%016x", 1)},
		{"expiry in the future", notYet, nil, fmt.Sprintf("key_%016x", 4)},
		{"missing", "", auth.ErrMissingKey, ""},
		{"malformed", "not-a-key", auth.ErrInvalidKey, ""},
		{"unknown", unknown, auth.ErrInvalidKey, ""},
		{"revoked", revoked, auth.ErrRevokedKey, ""},
		{"expired at exactly now", expired, auth.ErrExpiredKey, ""},
		{"revoked wins over expired", revokedAndExpired, auth.ErrRevokedKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Lookup(tt.secret)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Lookup error = %v, want %v", err, tt.wantErr)
			}
			if p.KeyID != tt.wantID {
				t.Errorf("Lookup KeyID = %q, want %q", p.KeyID, tt.wantID)
			}
		})
	}
	t.Run("principal fields", func(t *testing.T) {
		p, err := c.Lookup(active)
		if err != nil {
			t.Fatal(err)
		}
		want := auth.Principal{KeyID: fmt.Sprintf("key_%016x", 1), Name: "key-1", Masked: auth.Mask(active[len(active)-4:]), Models: []string{"gpt-*"}, LogBodies: true}
		if p.KeyID != want.KeyID || p.Name != want.Name || p.Masked != want.Masked || !slices.Equal(p.Models, want.Models) || !p.ExpiresAt.IsZero() ||
			p.LogBodies != want.LogBodies {
			t.Errorf("Lookup = %+v, want %+v", p, want)
		}
	})
	if got := c.Len(); got != 5 {
		t.Errorf("Len() = %d, want 5 (revoked keys stay cached)", got)
	}
}

func TestCacheLookupDoesNotAllocate(t *testing.T) {
	src := newFakeSource()
	secret, k := newKey(t, 1)
	src.put(k)
	c := auth.NewCache(src, auth.CacheOptions{})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	unknown, _ := newKey(t, 2)
	for _, s := range []string{secret, unknown, "", "junk"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = c.Lookup(s) }); n != 0 {
			t.Errorf("Lookup(%.8q...) allocates %v times, want 0", s, n)
		}
	}
}

func TestCacheRefresh(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, src *fakeSource, c *auth.Cache)
	}{
		{"incremental after initial load", func(t *testing.T, src *fakeSource, c *auth.Cache) {
			_, k1 := newKey(t, 1)
			src.put(k1)
			mustRefresh(t, c)
			s2, k2 := newKey(t, 2)
			src.put(k2)
			mustRefresh(t, c)
			if want := []int64{0, 1}; !slices.Equal(src.calls, want) {
				t.Errorf("KeysChangedSince calls = %v, want %v", src.calls, want)
			}
			if _, err := c.Lookup(s2); err != nil {
				t.Errorf("Lookup(new key) = %v", err)
			}
		}},
		{"error keeps last good state", func(t *testing.T, src *fakeSource, c *auth.Cache) {
			s1, k1 := newKey(t, 1)
			src.put(k1)
			mustRefresh(t, c)
			boom := errors.New("database is locked")
			src.setErr(boom)
			if err := c.Refresh(ctx); !errors.Is(err, boom) {
				t.Fatalf("Refresh error = %v, want wrapping %v", err, boom)
			}
			if _, err := c.Lookup(s1); err != nil {
				t.Errorf("Lookup after failed refresh = %v, want success", err)
			}
		}},
		{"apply is immediate and does not move the cursor", func(t *testing.T, src *fakeSource, c *auth.Cache) {
			mustRefresh(t, c)
			s1, k1 := newKey(t, 1)
			c.Apply(src.put(k1))
			if _, err := c.Lookup(s1); err != nil {
				t.Errorf("Lookup after Apply = %v", err)
			}
			mustRefresh(t, c)
			if want := []int64{0, 0}; !slices.Equal(src.calls, want) {
				t.Errorf("KeysChangedSince calls = %v, want %v", src.calls, want)
			}
		}},
		{"stale apply is ignored", func(t *testing.T, src *fakeSource, c *auth.Cache) {
			s1, k1 := newKey(t, 1)
			old := src.put(k1)
			k1.RevokedAt = time.Now()
			src.put(k1)
			mustRefresh(t, c)
			c.Apply(old)
			if _, err := c.Lookup(s1); !errors.Is(err, auth.ErrRevokedKey) {
				t.Errorf("Lookup after stale Apply = %v, want ErrRevokedKey", err)
			}
		}},
		{"bad hash is skipped", func(t *testing.T, src *fakeSource, c *auth.Cache) {
			_, k1 := newKey(t, 1)
			k1.Hash = "not-hex"
			src.put(k1)
			s2, k2 := newKey(t, 2)
			src.put(k2)
			mustRefresh(t, c)
			if c.Len() != 1 {
				t.Errorf("Len() = %d, want 1", c.Len())
			}
			if _, err := c.Lookup(s2); err != nil {
				t.Errorf("Lookup(good key) = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFakeSource()
			tt.run(t, src, auth.NewCache(src, auth.CacheOptions{}))
		})
	}
}

func mustRefresh(t *testing.T, c *auth.Cache) {
	t.Helper()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

// TestCacheRevokeThroughStore uses the real SQLite store as the source.
func TestCacheRevokeThroughStore(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/keys.db"
	server, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	cli, err := sqlite.Open(ctx, path) // a second process, like `tollgate keys revoke`
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })

	tests := []struct {
		name  string
		await func(t *testing.T, c *auth.Cache, secret string)
	}{
		{"after one Refresh", func(t *testing.T, c *auth.Cache, secret string) {
			mustRefresh(t, c)
		}},
		{"with Run", func(t *testing.T, c *auth.Cache, secret string) {
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); c.Run(runCtx) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(5 * time.Second)
			for {
				if _, err := c.Lookup(secret); errors.Is(err, auth.ErrRevokedKey) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("revocation not seen by Run within 5s")
				}
				time.Sleep(time.Millisecond) // polling interval, not synchronisation
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, k := newKey(t, i+1)
			if _, err := server.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			c := auth.NewCache(server, auth.CacheOptions{Interval: 5 * time.Millisecond})
			mustRefresh(t, c)
			if _, err := c.Lookup(secret); err != nil {
				t.Fatalf("Lookup before revoke = %v", err)
			}
			if _, err := cli.RevokeKey(ctx, k.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			tt.await(t, c, secret)
			if _, err := c.Lookup(secret); !errors.Is(err, auth.ErrRevokedKey) {
				t.Errorf("Lookup after revoke = %v, want ErrRevokedKey", err)
			}
		})
	}
}

// TestCacheRunInterval checks Run's schedule and error handling on a fake
// clock.
func TestCacheRunInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeSource()
		secret, k := newKey(t, 1)
		src.put(k)
		c := auth.NewCache(src, auth.CacheOptions{Interval: time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()

		synctest.Wait()
		if c.Len() != 0 {
			t.Fatalf("Len() = %d before the first tick, want 0", c.Len())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, err := c.Lookup(secret); err != nil {
			t.Fatalf("Lookup after first tick = %v", err)
		}

		src.setErr(errors.New("unavailable"))
		k.RevokedAt = time.Now()
		src.put(k)
		time.Sleep(time.Second)
		synctest.Wait()
		if _, err := c.Lookup(secret); err != nil {
			t.Fatalf("Lookup during source outage = %v, want last good state", err)
		}

		src.setErr(nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if _, err := c.Lookup(secret); !errors.Is(err, auth.ErrRevokedKey) {
			t.Fatalf("Lookup after recovery = %v, want ErrRevokedKey", err)
		}
		cancel()
		<-done
	})
}

func BenchmarkLookup(b *testing.B) {
	src := newFakeSource()
	var secrets []string
	for n := range 1000 {
		s, k := newKey(b, n)
		src.put(k)
		secrets = append(secrets, s)
	}
	c := auth.NewCache(src, auth.CacheOptions{})
	if err := c.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	secret := secrets[500]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Lookup(secret); err != nil {
			b.Fatal(err)
		}
	}
}
