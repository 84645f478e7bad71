package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

func TestTwoStoresShareADatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schemaDSN(t)
	server, cli := openStore(t, dsn), openStore(t, dsn)

	k, err := server.CreateKey(ctx, store.Key{ID: "key_0000000000000001", Name: "a", Hash: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		write  func() (store.Key, error)
		reader *Store
	}{
		{"create via cli seen by server", func() (store.Key, error) {
			return cli.CreateKey(ctx, store.Key{ID: "key_0000000000000002", Name: "b", Hash: "h2"})
		}, server},
		{"update via server seen by cli", func() (store.Key, error) {
			u := k
			u.Limits, u.Group, u.UpdatedAt = store.Limits{RPM: 5}, "research", time.Now()
			return server.UpdateKey(ctx, u)
		}, cli},
		{"revoke via cli seen by server", func() (store.Key, error) {
			return cli.RevokeKey(ctx, k.ID, time.Now())
		}, server},
		{"revoke via server seen by cli", func() (store.Key, error) {
			return server.RevokeKey(ctx, "b", time.Now())
		}, cli},
	}
	seen := k.Rev
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			written, err := tt.write()
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.reader.KeysChangedSince(ctx, seen)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != written.ID || got[0].Rev != written.Rev ||
				!got[0].RevokedAt.Equal(written.RevokedAt) || got[0].Limits != written.Limits {
				t.Fatalf("KeysChangedSince(%d) = %+v, want only %+v", seen, got, written)
			}
			if written.Rev <= seen {
				t.Errorf("rev %d not above previous %d", written.Rev, seen)
			}
			seen = written.Rev
		})
	}
}

// change is one record returned by a ...ChangedSince method.
type change struct {
	id  string
	rev int64
}

// TestRevOrderAcrossStores writes to each versioned table from two stores
// at once while a third polls for changes the way a cache does, asking
// only for revs above the highest it has seen. Were a rev ever to become
// visible after a higher one, the poller would skip it for good; so every
// record must be seen exactly once, with revs increasing across polls.
func TestRevOrderAcrossStores(t *testing.T) {
	t.Parallel()
	const (
		stores  = 2
		writers = 3 // per store
		each    = 15
	)
	tests := []struct {
		name  string
		write func(ctx context.Context, s *Store, n int) error
		since func(ctx context.Context, s *Store, rev int64) ([]change, error)
	}{
		{"keys", func(ctx context.Context, s *Store, n int) error {
			_, err := s.CreateKey(ctx, store.Key{ID: fmt.Sprintf("key_%016x", n), Name: strconv.Itoa(n), Hash: strconv.Itoa(n)})
			return err
		}, func(ctx context.Context, s *Store, rev int64) ([]change, error) {
			keys, err := s.KeysChangedSince(ctx, rev)
			return changes(keys, err, func(k store.Key) change { return change{k.ID, k.Rev} })
		}},
		{"groups", func(ctx context.Context, s *Store, n int) error {
			_, err := s.PutGroup(ctx, store.Group{Name: strconv.Itoa(n)})
			return err
		}, func(ctx context.Context, s *Store, rev int64) ([]change, error) {
			gs, err := s.GroupsChangedSince(ctx, rev)
			return changes(gs, err, func(g store.Group) change { return change{g.Name, g.Rev} })
		}},
		{"prices", func(ctx context.Context, s *Store, n int) error {
			_, err := s.PutPrice(ctx, store.Price{Model: strconv.Itoa(n)})
			return err
		}, func(ctx context.Context, s *Store, rev int64) ([]change, error) {
			ps, err := s.PricesChangedSince(ctx, rev)
			return changes(ps, err, func(p store.Price) change { return change{p.Model, p.Rev} })
		}},
		{"credits", func(ctx context.Context, s *Store, n int) error {
			_, err := s.AddCredit(ctx, store.Credit{Owner: "o", Amount: 1, Note: strconv.Itoa(n)})
			return err
		}, func(ctx context.Context, s *Store, rev int64) ([]change, error) {
			cs, err := s.CreditsChangedSince(ctx, rev)
			return changes(cs, err, func(c store.Credit) change { return change{c.Note, c.Rev} })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := schemaDSN(t)
			poller := openStore(t, dsn)
			var wg sync.WaitGroup
			for i := range stores {
				s := openStore(t, dsn)
				for w := range writers {
					wg.Go(func() {
						for j := range each {
							if err := tt.write(ctx, s, ((i*writers)+w)*each+j); err != nil {
								t.Errorf("write: %v", err)
								return
							}
						}
					})
				}
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()

			seen := map[string]int{}
			var last int64
			polls, partial := 0, 0
			for finished := false; !finished; {
				// One more poll after the writers have finished.
				select {
				case <-done:
					finished = true
				default:
				}
				got, err := tt.since(ctx, poller, last)
				if err != nil {
					t.Fatalf("poll after rev %d: %v", last, err)
				}
				polls++
				if len(got) > 0 && !finished {
					partial++
				}
				for _, c := range got {
					if c.rev <= last {
						t.Fatalf("poll after rev %d returned rev %d", last, c.rev)
					}
					last = c.rev
					seen[c.id]++
				}
			}
			t.Logf("%d polls, %d saw changes while writers ran", polls, partial)
			if want := stores * writers * each; len(seen) != want {
				t.Errorf("the poller saw %d distinct records, want %d", len(seen), want)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("record %s seen %d times, want once", id, n)
				}
			}
		})
	}
}

// changes maps the result of a ...ChangedSince call to changes.
func changes[T any](records []T, err error, f func(T) change) ([]change, error) {
	if err != nil {
		return nil, err
	}
	out := make([]change, len(records))
	for i, r := range records {
		out[i] = f(r)
	}
	return out, nil
}
