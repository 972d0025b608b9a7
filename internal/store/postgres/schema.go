package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CreateSchema creates the schema name in the database at dsn if it does
// not exist. It is for provisioning (one schema per deployment or per
// test run, selected with search_path in the DSN); Open does not create
// schemas.
func CreateSchema(ctx context.Context, dsn, name string) error {
	return onConn(ctx, dsn, "create schema", `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{name}.Sanitize())
}

// DropSchema drops the schema name and everything in it. It exists for
// test cleanup and decommissioning; nothing in the server calls it.
func DropSchema(ctx context.Context, dsn, name string) error {
	return onConn(ctx, dsn, "drop schema", `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
}

// onConn runs one statement on a connection of its own.
func onConn(ctx context.Context, dsn, op, sql string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("postgres: %s: invalid DSN", op)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	d := &DB{}
	if err != nil {
		return d.fail(op, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return d.fail(op, err)
}
