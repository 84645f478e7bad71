package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// TestUpgradeKeepsOldRows builds a database at schema version 3 by hand,
// as a release before governance left it, and checks that opening it
// applies the rest and reads the old rows with zero governance fields.
func TestUpgradeKeepsOldRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`}
	for _, m := range ms {
		if m.version > 3 {
			break
		}
		stmts = append(stmts, m.sql, `INSERT INTO schema_migrations VALUES (`+itoa(m.version)+`, 'then')`)
	}
	created := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	stmts = append(stmts,
		`INSERT INTO keys (id, name, hash, models, created_at, updated_at, rev) VALUES ('key_1', 'old', 'h', '["gpt-*"]', `+
			itoa(created)+`, `+itoa(created)+`, 7)`,
		`INSERT INTO request_logs (request_id, time, key_id, status) VALUES ('r1', `+itoa(created)+`, 'key_1', 200)`)
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
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
	logs, err := s.ListRequestLogs(ctx, store.LogFilter{})
	if err != nil || len(logs) != 1 || logs[0].Charged || logs[0].CostMicros != 0 {
		t.Errorf("old log row after upgrade = %+v, %v", logs, err)
	}
	if spent, err := s.SpendSince(ctx, "key_1", "", time.Time{}); err != nil || spent != 0 {
		t.Errorf("SpendSince over old rows = %d, %v; want 0", spent, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
