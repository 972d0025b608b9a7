package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// migrationFiles holds the schema history. Files are named
// NNNN_description.sql and are never edited once released: a change to
// the schema is a new file, so every database reaches the same schema by
// the same steps.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded steps in order.
func migrations() ([]store.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return store.Migrations(sub)
}

// migrate brings the schema up to date in one transaction: either every
// pending step applies or none does, and a second process opening the same
// file at the same time waits on the write lock and then finds nothing to
// do. A database written by a newer binary is refused rather than run
// against a schema this code does not know.
func (d *DB) migrate(ctx context.Context) error {
	steps, err := migrations()
	if err != nil {
		return err
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return d.fail("migrate", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return d.fail("migrate", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return d.fail("migrate", err)
	}
	if current > len(steps) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this binary's %d", current, len(steps))
	}
	for _, m := range steps[current:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return d.fail("migrate "+m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, ms(time.Now())); err != nil {
			return d.fail("migrate "+m.Name, err)
		}
	}
	return d.fail("migrate", tx.Commit())
}
