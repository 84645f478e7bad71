package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/servicetest"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// schemaDSN creates an empty schema with a random name on the test server
// and returns a DSN whose connections use it as their search_path, so each
// test gets a private database that parallel and repeated runs cannot see.
// The schema is dropped when the test ends, after stores opened later by
// the test have been closed.
func schemaDSN(t testing.TB) string {
	t.Helper()
	base := servicetest.PostgresURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+schema)
	// pgx does not read "+" in a URL query as a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")

	adminExec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { adminExec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })
	return u.String()
}

// adminExec runs sql on a connection of its own to dsn.
func adminExec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// openStore opens dsn and closes the store when the test ends.
func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), schemaDSN(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"default pool size", func(t *testing.T) {
			s := openStore(t, schemaDSN(t))
			if got := s.pool.Config().MaxConns; got != defaultMaxConns {
				t.Errorf("MaxConns = %d, want %d", got, defaultMaxConns)
			}
		}},
		{"pool size from the DSN", func(t *testing.T) {
			s := openStore(t, schemaDSN(t)+"&pool_max_conns=3")
			if got := s.pool.Config().MaxConns; got != 3 {
				t.Errorf("MaxConns = %d, want 3", got)
			}
		}},
		{"reopen keeps data and Close twice is fine", func(t *testing.T) {
			dsn := schemaDSN(t)
			s, err := Open(ctx, dsn)
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
			if _, err := openStore(t, dsn).GetKey(ctx, "key_1"); err != nil {
				t.Errorf("GetKey after reopen: %v", err)
			}
		}},
		{"malformed DSN", func(t *testing.T) {
			if s, err := Open(ctx, "postgres://%zz"); err == nil {
				_ = s.Close()
				t.Error("Open succeeded, want error")
			}
		}},
		{"nothing listening", func(t *testing.T) {
			// Port 1 on the loopback refuses at once.
			if s, err := Open(ctx, "postgres://u:secret-pw@127.0.0.1:1/db?sslmode=disable"); err == nil {
				_ = s.Close()
				t.Error("Open succeeded, want error")
			} else if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("error %q shows the password", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, schemaDSN(t))
	k := store.Key{ID: "key_1", Name: "n", Hash: "h"}
	if _, err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		call   func() error
		want   error
		pgCode string // if set, the *pgconn.PgError must stay in the chain
	}{
		{"duplicate id keeps the driver error", func() error {
			_, err := s.CreateKey(ctx, k)
			return err
		}, store.ErrConflict, codeUniqueViolation},
		{"NUL byte in a name", func() error {
			_, err := s.CreateKey(ctx, store.Key{ID: "key_2", Name: "a\x00b", Hash: "h2"})
			return err
		}, store.ErrInvalid, codeCharNotInRepertoire},
		{"invalid UTF-8 in a model list", func() error {
			_, err := s.PutGroup(ctx, store.Group{Name: "g", Models: []string{"\xff"}})
			return err
		}, store.ErrInvalid, codeCharNotInRepertoire},
		{"key expiry from year 10000", func() error {
			_, err := s.CreateKey(ctx, store.Key{ID: "key_3", Name: "n3", Hash: "h3", ExpiresAt: far})
			return err
		}, store.ErrInvalid, ""},
		{"log time from year 10000", func() error {
			return s.InsertRequestLogs(ctx, []store.RequestLog{{RequestID: "r", Time: far}})
		}, store.ErrInvalid, ""},
		{"status out of range", func() error {
			return s.InsertRequestLogs(ctx, []store.RequestLog{{RequestID: "r", Time: time.Now(), Status: 1 << 40}})
		}, store.ErrInvalid, ""},
		{"cancelled context", func() error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.GetKey(cctx, "key_1")
			return err
		}, context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			var pe *pgconn.PgError
			if tt.pgCode != "" && (!errors.As(err, &pe) || pe.Code != tt.pgCode) {
				t.Errorf("error = %v, want a *pgconn.PgError with code %s in the chain", err, tt.pgCode)
			}
		})
	}
	if keys, err := s.ListKeys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("after failed writes ListKeys = %v, %v; want only key_1", keys, err)
	}
}

func TestRequestLogTextIsCleaned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, schemaDSN(t))
	tests := []struct {
		name, in, want string
	}{
		{"valid text is kept", "openai-python/1.0 🚀", "openai-python/1.0 🚀"},
		{"invalid UTF-8", "curl/\xff\xfe8", "curl/\uFFFD8"},
		{"NUL byte", "a\x00b", "a\uFFFDb"},
	}
	rows := make([]store.RequestLog, len(tests))
	for i, tt := range tests {
		rows[i] = store.RequestLog{RequestID: tt.name, Time: time.Unix(int64(i), 0), UserAgent: tt.in, ErrorMessage: tt.in}
	}
	if err := s.InsertRequestLogs(ctx, rows); err != nil {
		t.Fatalf("InsertRequestLogs: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListRequestLogs(ctx, store.LogFilter{RequestID: tt.name})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].UserAgent != tt.want || got[0].ErrorMessage != tt.want {
				t.Errorf("stored rows = %+v, want one with UserAgent and ErrorMessage %q", got, tt.want)
			}
		})
	}
}
