package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// purgeBatch bounds how many rows one DELETE removes. Purge shares the
// single writer connection with the token endpoint; small batches keep
// each hold of the write lock to a few milliseconds so Replay.Use and
// Codes.Consume never wait long behind a purge of a large backlog.
const purgeBatch = 500

// purgeTargets names, per table, its key column and when a row is dead.
// Dead rows are already invisible to every read (each query checks
// expiry itself), so deleting them changes no answer; it only reclaims
// space. Used codes live CodeRetention past expiry for replay detection,
// device codes DeviceRetention (so late polls hear expired_token).
var purgeTargets = []struct{ table, key, dead string }{
	{"codes", "rowid", "expires_at <= :now AND (used_at IS NULL OR expires_at <= :now - :retention)"},
	{"requests", "rowid", "expires_at <= :now"},
	{"sessions", "hash", "expires_at <= :now"},
	{"refresh_tokens", "rowid", "expires_at <= :now"},
	{"grants", "rowid", "expires_at <= :now"},
	{"revocations", "jti", "expires_at <= :now"},
	{"replay", "key", "exp <= :now"},
	{"device_codes", "rowid", "expires_at <= :now - :device_retention"},
}

// Purge deletes rows that are dead at now and returns how many it deleted.
// It stops early, returning what it has done so far, when ctx ends.
// Nothing calls it automatically: a server runs RunJanitor, and tests may
// call Purge with a time in the future.
func (d *DB) Purge(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, t := range purgeTargets {
		q := fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[2]s FROM %[1]s WHERE %[3]s LIMIT %[4]d)`,
			t.table, t.key, t.dead, purgeBatch)
		for {
			res, err := d.exec(ctx, q, sql.Named("now", ms(now)), sql.Named("retention", retentionMS),
				sql.Named("device_retention", deviceRetentionMS))
			if err != nil {
				return total, d.fail("purge "+t.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, d.fail("purge "+t.table, err)
			}
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// RunJanitor purges dead rows now and then every interval until ctx ends
// (see store.RunJanitor). The store itself starts nothing in the
// background.
func (d *DB) RunJanitor(ctx context.Context, interval time.Duration, report func(purged int64, err error)) {
	store.RunJanitor(ctx, interval, d.Purge, report)
}
