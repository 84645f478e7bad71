package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/internal/store"
)

// appliedMigrations returns the versions recorded in dsn's
// schema_migrations, in order.
func appliedMigrations(t *testing.T, dsn string) []int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

// wantMigrations returns every embedded migration version, in order.
func wantMigrations(t *testing.T) []int64 {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, m := range ms {
		versions = append(versions, m.version)
	}
	return versions
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	dsn := schemaDSN(t)
	const n = 3
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		opens []*Store
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			mu.Lock()
			opens = append(opens, s)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	for _, s := range opens {
		t.Cleanup(func() { _ = s.Close() })
	}
	if len(opens) != n {
		t.Fatalf("%d of %d Opens succeeded", len(opens), n)
	}
	if got, want := appliedMigrations(t, dsn), wantMigrations(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v, each once", got, want)
	}
	// Every store works on the one schema.
	ctx := context.Background()
	for i, s := range opens {
		if _, err := s.AddCredit(ctx, store.Credit{Owner: "o", Amount: 1}); err != nil {
			t.Errorf("store %d: AddCredit: %v", i, err)
		}
	}
	if credited, _, err := opens[0].OwnerTotals(ctx, "o"); err != nil || credited != n {
		t.Errorf("OwnerTotals = %d, %v; want %d", credited, err, n)
	}
}

// TestUpgradeFromVersion1 builds a schema at version 1 by hand, as a
// release before governance left it, and checks that Open applies the rest
// and reads the old rows.
func TestUpgradeFromVersion1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schemaDSN(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].version != 1 {
		t.Fatalf("first migration is %s, want version 1", ms[0].name)
	}
	adminExec(t, dsn, `CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	adminExec(t, dsn, ms[0].sql)
	adminExec(t, dsn, `INSERT INTO schema_migrations (version, name) VALUES (1, $1)`, ms[0].name)
	adminExec(t, dsn, `INSERT INTO keys (id, name, hash, models, created_at, updated_at, rev)
		VALUES ('key_1', 'old', 'h', '{gpt-*}', now(), now(), 7)`)
	adminExec(t, dsn, `INSERT INTO request_logs (request_id, time, key_id, status, cost_micros, charged)
		VALUES ('r1', now(), 'key_1', 200, 5, true)`)

	s := openStore(t, dsn)
	if got, want := appliedMigrations(t, dsn), wantMigrations(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	k, err := s.GetKey(ctx, "key_1")
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "old" || len(k.Models) != 1 || k.Owner != "" || k.IPAllow != nil || k.Limits != (store.Limits{}) || k.Rev != 7 {
		t.Errorf("old key after upgrade = %+v", k)
	}
	k.Limits.RPM = 10
	if updated, err := s.UpdateKey(ctx, k); err != nil || updated.Rev != 8 || updated.Limits.RPM != 10 {
		t.Errorf("UpdateKey after upgrade = %+v, %v; want Rev 8 and RPM 10", updated, err)
	}
	if spent, err := s.SpendSince(ctx, "key_1", "", time.Time{}); err != nil || spent != 5 {
		t.Errorf("SpendSince over old rows = %d, %v; want 5", spent, err)
	}
}
