package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// migrationFiles holds the schema history; see store.Migration for the
// naming and never-edit rules.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockClass is the first key of the advisory lock Migrate holds;
// the second is a hash of the current schema, so nodes migrating
// different schemas of one database do not wait for each other.
const migrateLockClass = 0x42574b // "BWK"

// migrations returns the embedded steps in order.
func migrations() ([]store.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return store.Migrations(sub)
}

// Migrate applies pending migrations. It is what Open runs.
//
// Several nodes may call it at once: each takes a session-level advisory
// lock (pg_advisory_lock) on one connection first, so exactly one applies
// the pending steps, in one transaction, while the others wait and then
// find nothing to do. A schema newer than this binary is refused rather
// than used with statements written for an older one.
func (d *DB) Migrate(ctx context.Context) error {
	_, err := d.migrate(ctx)
	return err
}

func (d *DB) migrate(ctx context.Context) ([]string, error) {
	steps, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, d.fail("migrate", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))`, migrateLockClass); err != nil {
		return nil, d.fail("migrate: lock", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx is done, or
		// the pooled connection would keep it. If unlocking fails the
		// connection is closed, which releases the lock too.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))`, migrateLockClass); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	var applied []string
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return err
		}
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if current > len(steps) {
			return &versionError{current, len(steps)}
		}
		for _, m := range steps[current:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, nowMS()); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			applied = append(applied, m.Name)
		}
		return nil
	})
	var ve *versionError
	if errors.As(err, &ve) {
		return nil, ve
	}
	if err != nil {
		return nil, d.fail("migrate", err)
	}
	return applied, nil
}

// versionError is a database schema that does not match this binary.
type versionError struct{ have, want int }

func (e *versionError) Error() string {
	if e.have > e.want {
		return fmt.Sprintf("postgres: database schema version %d is newer than this binary's %d", e.have, e.want)
	}
	return fmt.Sprintf("postgres: database schema version %d, this binary needs %d: run bulwark migrate", e.have, e.want)
}

// schemaVersion returns the highest applied migration, 0 for none.
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// checkSchema is Open's check when migrations are skipped: the schema
// must be exactly the one this binary was built for.
func (d *DB) checkSchema(ctx context.Context) error {
	steps, err := migrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := d.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return d.fail("check schema", err)
	}
	current := 0
	if exists {
		if current, err = schemaVersion(ctx, d.pool); err != nil {
			return d.fail("check schema", err)
		}
	}
	if current != len(steps) {
		return &versionError{current, len(steps)}
	}
	return nil
}
