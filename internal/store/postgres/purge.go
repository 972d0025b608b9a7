package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// purgeBatch bounds how many rows one DELETE removes, so a large backlog
// is cleared in short statements that never hold many row locks or run
// into the statement timeout.
const purgeBatch = 1000

// purgeTargets names, per table, its key column and when a row is dead.
// Dead rows are already invisible to every read (each query checks expiry
// itself), so deleting them changes no answer; it only reclaims space.
// Used codes live CodeRetention past expiry for replay detection, device
// codes DeviceRetention (so late polls hear expired_token).
var purgeTargets = []struct{ table, key, dead string }{
	{"codes", "hash", "expires_at <= @now AND (used_at IS NULL OR expires_at <= @now::bigint - @retention::bigint)"},
	{"requests", "hash", "expires_at <= @now"},
	{"sessions", "hash", "expires_at <= @now"},
	{"refresh_tokens", "hash", "expires_at <= @now"},
	{"grants", "id", "expires_at <= @now"},
	{"revocations", "jti", "expires_at <= @now"},
	{"replay", "key", "exp <= @now"},
	{"device_codes", "hash", "expires_at <= @now::bigint - @device_retention::bigint"},
}

// Purge deletes rows that are dead at now and returns how many it deleted.
// It stops early, returning what it has done so far, when ctx ends. Every
// node may run it: concurrent purges delete disjoint or already-deleted
// rows, which is harmless.
func (d *DB) Purge(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, t := range purgeTargets {
		q := fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[2]s FROM %[1]s WHERE %[3]s LIMIT %[4]d)`,
			t.table, t.key, t.dead, purgeBatch)
		for {
			n, err := d.exec(ctx, "purge "+t.table, q, pgx.NamedArgs{"now": ms(now), "retention": retentionMS, "device_retention": deviceRetentionMS})
			if err != nil {
				return total, err
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
