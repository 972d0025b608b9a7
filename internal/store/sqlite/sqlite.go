package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// BusyTimeout is how long a connection waits for another process's write
// lock before failing with SQLITE_BUSY (reported as store.ErrUnavailable).
// Inside one process writers queue on the single writer connection and
// never hit it; it covers a second process, such as an admin command,
// writing to the same file.
const BusyTimeout = 5 * time.Second

// CodeRetention is how long Purge keeps an authorization code after it
// expires. A used code must outlive its expiry so that a replay arriving
// late is still recognised as a replay (ErrReplayed, grant revoked, RFC
// 6749 §4.1.2) rather than looking like an unknown code; Codes.Consume
// reports replays for this long whether or not Purge has run.
const CodeRetention = 10 * time.Minute

// pragmas are applied by the driver to every connection it opens, so a
// pooled connection opened long after Open has the same settings as the
// first. WAL lets readers run alongside the writer; synchronous=NORMAL is
// durable across process crashes in WAL mode (a power loss can lose the
// last commits, never corrupt the file), which is the right trade for
// short-lived protocol state at token-endpoint rates.
var pragmas = []struct{ name, value string }{
	{"busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds())},
	{"foreign_keys", "1"},
	{"journal_mode", "WAL"},
	{"synchronous", "NORMAL"},
}

// DB is an open SQLite store. Open is enough for most callers; OpenDB is
// for the server, which also needs Purge and RunJanitor.
//
// Writes go through one connection: SQLite admits one writer at a time
// anyway, and queueing writers in database/sql (which honours contexts)
// is both faster and more predictable than letting several connections
// spin on the file lock. Reads use a separate pool and, thanks to WAL,
// never wait for the writer.
type DB struct {
	w, r      *sql.DB
	stmts     sync.Map // stmtKey → *sql.Stmt
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// The replay batcher (replay.go), started on first use.
	replayOnce sync.Once
	replayCh   chan *replayUse
	quit       chan struct{} // closed by Close
}

// Open opens (creating if needed) the SQLite database at dsn, applies
// pending migrations and returns it as a store. dsn is a file path, a
// file: URI or ":memory:". Store.Close closes the database.
func Open(ctx context.Context, dsn string) (*store.Store, error) {
	d, err := OpenDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return d.Store(), nil
}

// OpenDB is Open for callers that also want the maintenance methods.
//
// The parent directory of a file DSN is created (mode 0700: the file holds
// grants and key material). Query parameters in dsn are passed to the
// driver; a _pragma the caller sets itself overrides the default of the
// same name.
func OpenDB(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.path != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create database directory: %w", err)
		}
	}
	w, err := sql.Open("sqlite", cfg.dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	d := &DB{w: w, r: w, quit: make(chan struct{})}
	if !cfg.memory {
		// An in-memory database exists only on its one connection, so it
		// cannot have a separate read pool.
		r, err := sql.Open("sqlite", cfg.dsn+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		r.SetConnMaxLifetime(0)
		r.SetConnMaxIdleTime(0)
		d.r = r
	}
	if err := d.migrateRetrying(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// migrateRetrying runs migrate, retrying while another process or DB on
// the same file holds the lock. Switching a new database to WAL (a DSN
// pragma run as each connection opens) takes an exclusive lock and SQLite
// reports SQLITE_BUSY for it at once instead of waiting out busy_timeout,
// so several nodes starting together on one fresh file would otherwise
// fail their first statement.
func (d *DB) migrateRetrying(ctx context.Context) error {
	const attempts, pause = 100, 20 * time.Millisecond
	var err error
	for range attempts {
		if err = d.migrate(ctx); err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
	return err
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return strings.Contains(err.Error(), "database is locked")
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

// Ping checks both pools, since a request may need either; it backs
// /readyz through Store.Ping.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return d.fail("ping", err)
	}
	if err := d.r.PingContext(ctx); err != nil {
		return d.fail("ping", err)
	}
	return nil
}

// Close closes the database. It is safe to call more than once, because
// both the server's shutdown path and test cleanups may close the same
// store; later calls return the first call's result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		close(d.quit)
		var errs []error
		d.stmts.Range(func(_, s any) bool {
			errs = append(errs, s.(*sql.Stmt).Close())
			return true
		})
		if d.r != d.w {
			errs = append(errs, d.r.Close())
		}
		errs = append(errs, d.w.Close())
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// dsnConfig is a parsed DSN: dsn is what the driver gets (with a query
// string, so parameters can be appended with "&"), path the database file
// or "" when the database lives in memory.
type dsnConfig struct {
	dsn    string
	path   string
	memory bool
}

// parseDSN finds the database file in dsn and adds the pragmas every
// connection needs.
func parseDSN(dsn string) (dsnConfig, error) {
	if dsn == "" {
		return dsnConfig{}, errors.New("sqlite: empty DSN")
	}
	var cfg dsnConfig
	base, query, _ := strings.Cut(dsn, "?")
	name := base
	q, err := url.ParseQuery(query)
	if err != nil {
		return dsnConfig{}, fmt.Errorf("sqlite: DSN query: %w", err)
	}
	if rest, ok := strings.CutPrefix(name, "file:"); ok {
		// RFC 8089 as SQLite reads it: file:path, file:/abs or
		// file://[localhost]/abs, with %-escapes.
		rest, _, _ = strings.Cut(rest, "#")
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			auth, p, _ := strings.Cut(after, "/")
			if auth != "" && auth != "localhost" {
				return dsnConfig{}, fmt.Errorf("sqlite: file URI authority %q is not local", auth)
			}
			rest = "/" + p
		}
		if name, err = url.PathUnescape(rest); err != nil {
			return dsnConfig{}, fmt.Errorf("sqlite: DSN path: %w", err)
		}
	}
	cfg.memory = name == "" || name == ":memory:" || q.Get("mode") == "memory" || q.Get("vfs") == "memdb"
	if !cfg.memory {
		cfg.path = name
	}
	var params []string
	if query != "" {
		params = append(params, query)
	}
	for _, p := range pragmas {
		if !hasPragma(q["_pragma"], p.name) {
			params = append(params, "_pragma="+p.name+"("+p.value+")")
		}
	}
	// OpenDB appends "&name=value" to the result, so it always has a query
	// string, even an empty one.
	cfg.dsn = base + "?" + strings.Join(params, "&")
	return cfg, nil
}

// hasPragma reports whether values (the DSN's _pragma parameters) set the
// named pragma, written as "name(value)" or "name=value".
func hasPragma(values []string, name string) bool {
	for _, v := range values {
		v = strings.ToLower(strings.TrimSpace(v))
		if rest, ok := strings.CutPrefix(v, name); ok && (strings.HasPrefix(rest, "(") || strings.HasPrefix(strings.TrimSpace(rest), "=")) {
			return true
		}
	}
	return false
}

// fail maps a driver error to the contract's sentinels. Anything that means
// "the database could not answer" becomes ErrUnavailable, so callers fail
// closed with temporarily_unavailable; a key collision becomes
// ErrConflict. The original error stays in the chain for logs.
func (d *DB) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if d.closed.Load() || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrConflict, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL,
			sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM,
			sqlite3.SQLITE_AUTH, sqlite3.SQLITE_NOLFS:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// ms is the storage form of a time: Unix milliseconds, which sort and
// compare as plain integers in SQL.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS is the inverse of ms; times come back in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores an optional time as NULL or milliseconds.
func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}

// nonZero returns nil for the zero time, for optional times stored as NULL.
func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNullMS is the inverse of nullMS.
func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// blob stores a nil slice as an empty BLOB: the columns are NOT NULL, and
// the contract does not distinguish nil from empty.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nowMS is the store's clock for expiry decisions.
func nowMS() int64 { return time.Now().UnixMilli() }

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
