package postgres

import "context"

// Truncate empties every table but schema_migrations, so one schema
// serves a whole conformance run with a fresh store per case.
func (d *DB) Truncate(ctx context.Context) error {
	_, err := d.pool.Exec(ctx, `TRUNCATE clients, users, signing_keys, requests, codes, grants,
		refresh_tokens, revocations, consents, sessions, replay, device_codes`)
	return err
}

// Exec runs a statement directly, for tests that inspect the schema.
func (d *DB) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// QueryInt runs a query returning one integer.
func (d *DB) QueryInt(ctx context.Context, sql string, args ...any) (int, error) {
	var n int
	err := d.pool.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}
