// Package postgres is the PostgreSQL implementation of the store contract,
// for deployments that run several Bulwark nodes on one shared database.
// It uses pgx/v5 through a pgxpool connection pool.
//
// Open parses a postgres:// URL (pool sizes, connect and statement
// timeouts and the search_path are DSN parameters; see Open for the
// defaults) and, unless told not to, applies the embedded, forward-only
// migrations (migrations/*.sql, recorded in schema_migrations). Migrating
// holds a session-level advisory lock keyed by the current schema, so
// nodes that start at once apply each step exactly once and the rest wait
// and find nothing to do.
//
// Each single-use operation is one atomic statement whose WHERE clause is
// the whole decision: Codes.Consume and Requests.Consume are
// `UPDATE … WHERE used_at IS NULL AND expires_at > now RETURNING …`,
// Replay.Use is `INSERT … ON CONFLICT DO UPDATE … WHERE exp <= now` with
// rows affected deciding, and RefreshTokens.Rotate is one transaction whose
// conditional UPDATE decides the race. Under READ COMMITTED a concurrent
// loser's statement waits for the winner's row lock and re-checks the
// condition on the committed row, so exactly one of any number of callers
// on any number of nodes wins. A follow-up read runs only after a loss, to
// tell the caller why. Never get-then-delete.
//
// Times are stored as Unix milliseconds (BIGINT), as in package sqlite, and
// expiry is decided by the calling node's clock: nodes must run NTP.
// Expired rows are invisible to reads at once and deleted later by Purge,
// which a server schedules with RunJanitor. Errors that mean the database
// could not answer (connection failures, timeouts, a closed pool, a
// canceled context, server shutdown) wrap store.ErrUnavailable so callers
// fail closed; a unique violation is store.ErrConflict.
package postgres
