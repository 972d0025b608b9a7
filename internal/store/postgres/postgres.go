package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// Defaults applied by Open when the DSN does not set them.
const (
	// DefaultConnectTimeout bounds establishing one connection
	// (DSN connect_timeout, in seconds).
	DefaultConnectTimeout = 5 * time.Second
	// DefaultStatementTimeout bounds one statement on the server
	// (DSN statement_timeout, in milliseconds). A token request waits on
	// a handful of statements, so a stuck database turns into 503s within
	// seconds instead of piling up requests.
	DefaultStatementTimeout = 5 * time.Second
	// DefaultLockTimeout bounds waiting for a row lock (DSN lock_timeout,
	// in milliseconds); a single-use race never holds one longer than a
	// statement.
	DefaultLockTimeout = 3 * time.Second
)

// CodeRetention is how long a used authorization code is remembered after
// it expires, so a late replay is still recognised (ErrReplayed, grant
// revoked, RFC 6749 §4.1.2) rather than looking unknown. It matches
// package sqlite.
const CodeRetention = 10 * time.Minute

// errClosed is the cause of every error after Close.
var errClosed = errors.New("store closed")

// retentionMS is CodeRetention as the SQL statements use it.
var retentionMS = CodeRetention.Milliseconds()

// Options tune Open. The zero value is the safe default: migrate on open.
type Options struct {
	// SkipMigrations opens the database without applying migrations. The
	// schema must then already be current (run `bulwark migrate`); Open
	// still refuses a schema newer than this binary knows, and an older one.
	SkipMigrations bool
}

// DB is an open PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

// Open connects to the database at dsn (a postgres:// or postgresql://
// URL, or a key=value DSN), applies pending migrations unless
// opts.SkipMigrations, and returns the store.
//
// Pool settings are DSN parameters read by pgxpool: pool_max_conns
// (default max(4, CPUs)), pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time, pool_health_check_period. Timeouts:
// connect_timeout (default 5 s), and statement_timeout and lock_timeout
// (server settings, defaults DefaultStatementTimeout and
// DefaultLockTimeout). Any other parameter, such as search_path, is sent
// to the server as a run-time setting.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	d, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if opts.SkipMigrations {
		err = d.checkSchema(ctx)
	} else {
		_, err = d.migrate(ctx)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Migrate connects to the database at dsn, applies pending migrations and
// returns the names of the steps it applied (none when the schema was
// current). It is `bulwark migrate`; see DB.Migrate for how concurrent
// callers are kept apart.
func Migrate(ctx context.Context, dsn string) ([]string, error) {
	d, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.migrate(ctx)
}

// connect opens the pool with Bulwark's defaults; see Open.
func connect(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("postgres: invalid DSN")
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		// Unset (or 0, which libpq reads as "wait forever"): a node
		// must not hang on a database that does not answer.
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if _, ok := cc.RuntimeParams["statement_timeout"]; !ok {
		cc.RuntimeParams["statement_timeout"] = fmt.Sprint(DefaultStatementTimeout.Milliseconds())
	}
	if _, ok := cc.RuntimeParams["lock_timeout"]; !ok {
		cc.RuntimeParams["lock_timeout"] = fmt.Sprint(DefaultLockTimeout.Milliseconds())
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "bulwark"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w: %w", store.ErrUnavailable, err)
	}
	return &DB{pool: pool}, nil
}

// Store returns the store backed by d. Its Close closes d.
func (d *DB) Store() *store.Store {
	return &store.Store{
		Clients:       clients{d},
		Users:         users{d},
		Keys:          keys{d},
		Requests:      requests{d},
		Codes:         codes{d},
		Grants:        grants{d},
		RefreshTokens: refreshTokens{d},
		Revocations:   revocations{d},
		Consents:      consents{d},
		Sessions:      sessions{d},
		Replay:        replay{d},
		DeviceCodes:   deviceCodes{d},
		Audit:         audit{d},
		Ping:          d.Ping,
		Close:         d.Close,
	}
}

// Ping checks that the database answers a query; it backs /readyz.
func (d *DB) Ping(ctx context.Context) error {
	if d.closed.Load() {
		return d.fail("ping", errClosed)
	}
	return d.fail("ping", d.pool.Ping(ctx))
}

// Close closes the pool. It is safe to call more than once.
func (d *DB) Close() error {
	if d.closed.CompareAndSwap(false, true) {
		d.pool.Close()
	}
	return nil
}

// fail maps a driver error to the contract's sentinels. A unique
// violation is ErrConflict. Everything else that is not a plain SQL
// error the server reported about the statement itself means the
// database could not answer, and becomes ErrUnavailable so the caller
// fails closed; the original error stays in the chain for logs.
func (d *DB) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && !d.closed.Load() {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrConflict, err)
		case unavailableClass(pe.Code):
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	// Not a server verdict on the statement: a dead or refused
	// connection, a timeout, a canceled context, a closed pool.
	return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
}

// unavailableClass reports whether a SQLSTATE means "try again later"
// rather than "this statement is wrong": connection exceptions (08),
// insufficient resources (53), operator intervention such as a statement
// timeout or shutdown (57), system errors (58), serialization failures
// and deadlocks (40), and lock timeouts (55P03).
func unavailableClass(code string) bool {
	if code == "55P03" {
		return true
	}
	switch code[:2] {
	case "08", "40", "53", "57", "58":
		return true
	}
	return false
}

// ms is the storage form of a time: Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS is the inverse of ms; times come back in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores an optional time as NULL or milliseconds.
func nullMS(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := ms(*t)
	return &v
}

// fromNullMS is the inverse of nullMS.
func fromNullMS(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMS(*v)
	return &t
}

// blob stores a nil slice as an empty BYTEA: the columns are NOT NULL, and
// the contract does not distinguish nil from empty.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nowMS is the store's clock for expiry decisions.
func nowMS() int64 { return time.Now().UnixMilli() }

// exec runs a statement and returns the number of rows it changed.
func (d *DB) exec(ctx context.Context, op, sql string, args ...any) (int64, error) {
	if d.closed.Load() {
		return 0, d.fail(op, errClosed)
	}
	tag, err := d.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, d.fail(op, err)
	}
	return tag.RowsAffected(), nil
}

// row runs a query expected to return at most one row. Its Scan returns
// pgx.ErrNoRows unmapped, and every other error through fail.
func (d *DB) row(ctx context.Context, op, sql string, args ...any) scanner {
	if d.closed.Load() {
		return errRow{d.fail(op, errClosed)}
	}
	return mappedRow{d: d, op: op, r: d.pool.QueryRow(ctx, sql, args...)}
}

// scanner is a single-row result.
type scanner interface{ Scan(dest ...any) error }

type mappedRow struct {
	d  *DB
	op string
	r  pgx.Row
}

func (m mappedRow) Scan(dest ...any) error {
	err := m.r.Scan(dest...)
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return m.d.fail(m.op, err)
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// wantOne turns a conditional write's row count into the contract's
// answer: one row is success, none is otherwise.
func wantOne(n int64, err error, otherwise error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return otherwise
	}
	return nil
}
