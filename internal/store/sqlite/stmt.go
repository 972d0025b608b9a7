package sqlite

import (
	"context"
	"database/sql"
)

// Every query in this package is a constant, so each is prepared once per
// pool and reused: parsing and planning a statement cost as much as
// executing a small one (measured: Replay.Use drops from ~45µs to ~30µs),
// and Replay.Use runs on every token request. database/sql re-prepares a
// cached statement transparently on each pooled connection that needs it.

// stmtKey names one statement on one pool; the same text on the reader
// and the writer is two prepared statements.
type stmtKey struct {
	pool *sql.DB
	q    string
}

// stmt returns q prepared on pool, preparing it on first use.
func (d *DB) stmt(ctx context.Context, pool *sql.DB, q string) (*sql.Stmt, error) {
	key := stmtKey{pool, q}
	if s, ok := d.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := pool.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(key, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// row is a *sql.Row that can also carry a preparation error, so call
// sites handle one error from Scan either way.
type row struct {
	r   *sql.Row
	err error
}

// Scan is sql.Row.Scan, or the preparation error.
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// exec runs a write on the writer connection.
func (d *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := d.stmt(ctx, d.w, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// writeRow runs a write that returns a row (UPDATE … RETURNING) on the
// writer connection.
func (d *DB) writeRow(ctx context.Context, q string, args ...any) row {
	s, err := d.stmt(ctx, d.w, q)
	if err != nil {
		return row{err: err}
	}
	return row{r: s.QueryRowContext(ctx, args...)}
}

// readRow runs a single-row read on the reader pool.
func (d *DB) readRow(ctx context.Context, q string, args ...any) row {
	s, err := d.stmt(ctx, d.r, q)
	if err != nil {
		return row{err: err}
	}
	return row{r: s.QueryRowContext(ctx, args...)}
}

// query runs a multi-row read on the reader pool.
func (d *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := d.stmt(ctx, d.r, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// txExec is exec inside tx. Statements inside transactions are not
// prepared through the pool: the writer pool has one connection, which
// the transaction already holds, so preparing there would wait forever.
// Transactions run on the rarer paths (rotation, grant writes).
func (d *DB) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, q, args...)
}

// txRow is readRow inside tx, which sees the transaction's own writes.
func (d *DB) txRow(ctx context.Context, tx *sql.Tx, q string, args ...any) row {
	return row{r: tx.QueryRowContext(ctx, q, args...)}
}
