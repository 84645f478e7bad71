package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	modernc "modernc.org/sqlite"

	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
	"github.com/tollgate/tollgate/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "tollgate.db") }},
		{"memory", func(*testing.T) string { return sqlite.MemoryPath }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Exercise(t, func(t *testing.T) store.Store {
				s, err := sqlite.Open(context.Background(), tt.path(t))
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return s
			})
		})
	}
}

// openFile opens path and closes the store when the test ends.
func openFile(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestTwoStoresShareAFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "tollgate.db")
	server := openFile(t, path) // also creates the missing parent directories
	cli := openFile(t, path)

	k, err := server.CreateKey(ctx, store.Key{ID: "key_0000000000000001", Name: "a", Hash: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		write  func() (store.Key, error)
		reader *sqlite.Store
	}{
		{"create via cli seen by server", func() (store.Key, error) {
			return cli.CreateKey(ctx, store.Key{ID: "key_0000000000000002", Name: "b", Hash: "h2"})
		}, server},
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
			if len(got) != 1 || got[0].ID != written.ID || got[0].Rev != written.Rev || !got[0].RevokedAt.Equal(written.RevokedAt) {
				t.Fatalf("KeysChangedSince(%d) = %+v, want only %+v", seen, got, written)
			}
			if written.Rev <= seen {
				t.Errorf("rev %d not above previous %d", written.Rev, seen)
			}
			seen = written.Rev
		})
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, path string)
	}{
		{"reopen keeps data and migrations are idempotent", func(t *testing.T, path string) {
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateKey(ctx, store.Key{ID: "key_1", Name: "n", Hash: "h"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close = %v, want nil", err)
			}
			again := openFile(t, path)
			if _, err := again.GetKey(ctx, "key_1"); err != nil {
				t.Errorf("GetKey after reopen: %v", err)
			}
		}},
		{"concurrent opens of a new file", func(t *testing.T, path string) {
			const n = 4
			errs := make(chan error, n)
			stores := make(chan *sqlite.Store, n)
			for range n {
				go func() {
					s, err := sqlite.Open(ctx, path)
					errs <- err
					stores <- s
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Errorf("Open: %v", err)
				}
				if s := <-stores; s != nil {
					t.Cleanup(func() { _ = s.Close() })
				}
			}
		}},
		{"empty path", func(t *testing.T, _ string) {
			if _, err := sqlite.Open(ctx, ""); err == nil {
				t.Error("Open(\"\") succeeded, want error")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, filepath.Join(t.TempDir(), "tollgate.db"))
		})
	}
}

func TestTimeOutOfRange(t *testing.T) {
	ctx := context.Background()
	s := openFile(t, sqlite.MemoryPath)
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		call func() error
	}{
		{"key expiry", func() error {
			_, err := s.CreateKey(ctx, store.Key{ID: "key_1", Name: "n", Hash: "h", ExpiresAt: far})
			return err
		}},
		{"log time", func() error {
			return s.InsertRequestLogs(ctx, []store.RequestLog{{RequestID: "r", Time: far}})
		}},
		{"key update expiry", func() error {
			k, err := s.CreateKey(ctx, store.Key{ID: "key_2", Name: "n2", Hash: "h2"})
			if err != nil {
				return err
			}
			k.ExpiresAt = far
			_, err = s.UpdateKey(ctx, k)
			return err
		}},
		{"group time", func() error {
			_, err := s.PutGroup(ctx, store.Group{Name: "g", UpdatedAt: far})
			return err
		}},
		{"price time", func() error {
			_, err := s.PutPrice(ctx, store.Price{Model: "m", UpdatedAt: far})
			return err
		}},
		{"credit time", func() error {
			_, err := s.AddCredit(ctx, store.Credit{Owner: "o", Amount: 1, Time: far})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestConflictKeepsDriverError(t *testing.T) {
	ctx := context.Background()
	s := openFile(t, sqlite.MemoryPath)
	k := store.Key{ID: "key_1", Name: "n", Hash: "h"}
	if _, err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateKey(ctx, k)
	var se *modernc.Error
	if !errors.Is(err, store.ErrConflict) || !errors.As(err, &se) {
		t.Errorf("duplicate CreateKey error = %v; want ErrConflict wrapping *sqlite.Error", err)
	}
}
