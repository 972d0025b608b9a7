// Package sqlite is the embedded SQLite implementation of the store
// contract, Bulwark's default back end: one file, no server, and through
// modernc.org/sqlite no cgo, so the binary stays static.
//
// Open applies the embedded, forward-only migrations (migrations/*.sql,
// recorded in schema_migrations) in one transaction. Every connection gets
// WAL mode, a busy timeout, foreign keys and synchronous=NORMAL through
// DSN pragmas, so a connection the pool opens later is configured like the
// first.
//
// Writes share one connection and reads use a pool: SQLite has a single
// writer anyway, and queueing in Go instead of on the file lock is faster
// and keeps SQLITE_BUSY out of normal operation. Each single-use operation
// (Codes.Consume, Requests.Consume, Replay.Use, DeviceCodes.Decide and
// DeviceCodes.Consume) is one conditional statement, and
// RefreshTokens.Rotate and DeviceCodes.Poll are IMMEDIATE transactions
// that hold the write lock from their read to their write, so exactly one
// of any number of concurrent callers wins. Times are stored as Unix milliseconds, so
// values come back truncated to the millisecond.
//
// Expired rows are invisible to reads at once (DeviceCodes.Poll excepted,
// for DeviceRetention) and deleted later by Purge,
// which the server schedules with RunJanitor; the package starts no
// goroutines of its own. Errors meaning the database could not answer
// (closed, canceled, busy, I/O) wrap store.ErrUnavailable so callers fail
// closed.
package sqlite
