package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
)

// bulkTx is a transaction on the driver's connection itself, for the
// request log's multi-row inserts. Through database/sql every statement
// with its thousand bound values would get a new converted copy of all of
// them, and each execution would start a goroutine to watch the context;
// here the values go to the driver in one slice reused for every
// statement, and the context is checked between statements.
type bulkTx struct {
	conn driver.ConnPrepareContext
	nv   []driver.NamedValue
}

// errNoBulk is returned if the driver's connection lacks what bulkTx uses.
var errNoBulk = errors.New("the sqlite driver's connection cannot prepare statements or begin transactions with a context")

// inBulkTx runs fn in a transaction on one connection of the pool and
// commits it if fn succeeds.
func (s *Store) inBulkTx(ctx context.Context, fn func(*bulkTx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		begin, ok := dc.(driver.ConnBeginTx)
		prep, ok2 := dc.(driver.ConnPrepareContext)
		if !ok || !ok2 {
			return errNoBulk
		}
		tx, err := begin.BeginTx(context.WithoutCancel(ctx), driver.TxOptions{})
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if err := fn(&bulkTx{conn: prep}); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// prepare prepares query on the transaction's connection.
func (b *bulkTx) prepare(ctx context.Context, query string) (driver.StmtExecContext, func(), error) {
	st, err := b.conn.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, nil, err
	}
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		_ = st.Close()
		return nil, nil, errNoBulk
	}
	return ex, func() { _ = st.Close() }, nil
}

// exec runs stmt with args, which must be driver values (int64, float64,
// bool, []byte, string, time.Time or nil), unless ctx has ended.
func (b *bulkTx) exec(ctx context.Context, stmt driver.StmtExecContext, args []any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.nv = b.nv[:0]
	for i, a := range args {
		if !driver.IsValue(a) {
			return fmt.Errorf("value %d is a %T, not a driver value", i+1, a)
		}
		b.nv = append(b.nv, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	_, err := stmt.ExecContext(context.WithoutCancel(ctx), b.nv)
	return err
}
