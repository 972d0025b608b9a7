package sqlite

import (
	"context"
	"database/sql"
	"runtime"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// Replay.Use runs on every token request (assertion jti) and, with DPoP,
// twice. Committed one by one, each use pays for its own WAL append and
// file-lock round trip, which costs more than the ES256 verification it
// guards. Concurrent uses are therefore grouped into one write
// transaction (group commit): a use still returns only after its row is
// durable, and two uses of one key in one batch still see each other,
// because the batch runs its inserts in order inside the transaction.

// maxReplayBatch bounds one transaction so the write lock is held briefly.
const maxReplayBatch = 256

// replayTimeout bounds a batch, which outlives any one caller's context.
const replayTimeout = 5 * time.Second

const replayUpsert = `INSERT INTO replay (key, exp) VALUES (?1, ?2)
	ON CONFLICT (key) DO UPDATE SET exp = excluded.exp WHERE replay.exp <= ?3`

type replayUse struct {
	key  string
	exp  int64
	done chan error // buffered: the batcher never blocks on a gone caller
}

type replay struct{ d *DB }

// Use is one upsert: a new key inserts, a dead key is taken over, and a
// live key leaves the row untouched, which shows as zero rows changed.
// Uses are handed to one batcher goroutine, which commits whatever has
// queued up while it was busy in a single transaction (group commit);
// measured on 2 cores with 32 callers: ~10µs a use instead of ~45µs.
func (s replay) Use(ctx context.Context, key string, exp time.Time) error {
	d := s.d
	if d.closed.Load() {
		return d.fail("replay", sql.ErrConnDone)
	}
	if err := ctx.Err(); err != nil {
		// Checked first: with the batcher ready to receive, the select
		// below could pick the send over a done context and spend the
		// key for a caller that is told it failed.
		return d.fail("replay", err)
	}
	d.replayOnce.Do(d.startReplayBatcher)
	u := &replayUse{key: key, exp: ms(exp), done: make(chan error, 1)}
	select {
	case d.replayCh <- u:
	case <-ctx.Done():
		return d.fail("replay", ctx.Err())
	case <-d.quit:
		return d.fail("replay", sql.ErrConnDone)
	}
	// Once queued, the use may commit even if the caller gives up; the
	// key is then spent and the caller still fails: closed either way.
	select {
	case err := <-u.done:
		return err
	case <-ctx.Done():
		return d.fail("replay", ctx.Err())
	}
}

func (d *DB) startReplayBatcher() {
	d.replayCh = make(chan *replayUse)
	go func() {
		batch := make([]*replayUse, 0, maxReplayBatch)
		for {
			select {
			case u := <-d.replayCh:
				batch = append(batch[:0], u)
				// Let callers that are about to queue do so, so that they
				// share this commit instead of each paying for one.
				runtime.Gosched()
			drain:
				for len(batch) < maxReplayBatch {
					select {
					case u := <-d.replayCh:
						batch = append(batch, u)
					default:
						break drain
					}
				}
				d.commitReplays(batch)
			case <-d.quit:
				return
			}
		}
	}()
}

// commitReplays runs batch in one transaction and answers every use. If
// anything fails, every use in the batch fails: none is reported unused.
// The batch serves several callers, so it runs under its own deadline
// rather than any one caller's context.
func (d *DB) commitReplays(batch []*replayUse) {
	errs := make([]error, len(batch))
	err := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
		defer cancel()
		stmt, err := d.stmt(ctx, d.w, replayUpsert)
		if err != nil {
			return err
		}
		if len(batch) == 1 {
			// Alone: one autocommit statement, no BEGIN/COMMIT round trips.
			res, err := stmt.ExecContext(ctx, batch[0].key, batch[0].exp, nowMS())
			if err != nil {
				return err
			}
			errs[0], err = replayed(res)
			return err
		}
		tx, err := d.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		txStmt := tx.StmtContext(ctx, stmt)
		now := nowMS()
		for i, u := range batch {
			res, err := txStmt.ExecContext(ctx, u.key, u.exp, now)
			if err != nil {
				return err
			}
			if errs[i], err = replayed(res); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	for i, u := range batch {
		if err != nil {
			u.done <- d.fail("replay", err)
		} else {
			u.done <- errs[i]
		}
	}
}

// replayed reads an upsert's outcome: no row changed means a live key.
func replayed(res sql.Result) (error, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return store.ErrReplayed, nil
	}
	return nil, nil
}
