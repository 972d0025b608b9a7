package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// DeviceRetention is how long Purge keeps a device authorization after it
// expires, so a device still polling is told expired_token rather than
// invalid_grant; DeviceCodes.Poll returns such rows until then.
const DeviceRetention = 10 * time.Minute

// deviceRetentionMS is DeviceRetention as the SQL statements use it.
var deviceRetentionMS = DeviceRetention.Milliseconds()

type deviceCodes struct{ d *DB }

var _ store.DeviceCodes = deviceCodes{}

// deviceColumns are the columns scanDevice reads, in its order.
const deviceColumns = `user_code_hash, client_id, scopes, params, status, subject, auth_time, interval_ms, polled_at, expires_at`

func scanDevice(r interface{ Scan(...any) error }) (*store.DeviceCode, error) {
	var d store.DeviceCode
	var status string
	var auth, polled sql.NullInt64
	var interval, exp int64
	if err := r.Scan(&d.UserCodeHash, &d.ClientID, &d.Scopes, &d.Params, &status, &d.Subject, &auth, &interval, &polled, &exp); err != nil {
		return nil, err
	}
	d.Status = store.DeviceStatus(status)
	d.Interval = time.Duration(interval) * time.Millisecond
	d.ExpiresAt = fromMS(exp)
	if auth.Valid {
		d.AuthTime = fromMS(auth.Int64)
	}
	if polled.Valid {
		d.PolledAt = fromMS(polled.Int64)
	}
	return &d, nil
}

// zeroNullMS stores the zero time as NULL: a pending row has neither a
// decision time nor a poll yet.
func zeroNullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// Put clears expired rows that hold the same hash or user code, then
// inserts, in one transaction; a live row with either key fails the
// insert with a constraint error, which fail reports as ErrConflict.
func (s deviceCodes) Put(ctx context.Context, hash string, d *store.DeviceCode) error {
	tx, err := s.d.w.BeginTx(ctx, nil)
	if err != nil {
		return s.d.fail("put device code", err)
	}
	defer tx.Rollback()
	now := nowMS()
	if _, err := s.d.txExec(ctx, tx, `DELETE FROM device_codes
		WHERE (hash = :hash OR user_code_hash = :user) AND expires_at <= :now`,
		sql.Named("hash", hash), sql.Named("user", d.UserCodeHash), sql.Named("now", now)); err != nil {
		return s.d.fail("put device code", err)
	}
	if _, err := s.d.txExec(ctx, tx, `INSERT INTO device_codes (hash, `+deviceColumns+`)
		VALUES (:hash, :user, :client, :scopes, :params, :status, :subject, :auth, :interval, :polled, :exp)`,
		sql.Named("hash", hash), sql.Named("user", d.UserCodeHash), sql.Named("client", d.ClientID),
		sql.Named("scopes", d.Scopes), sql.Named("params", blob(d.Params)), sql.Named("status", string(d.Status)),
		sql.Named("subject", d.Subject), sql.Named("auth", zeroNullMS(d.AuthTime)),
		sql.Named("interval", d.Interval.Milliseconds()), sql.Named("polled", zeroNullMS(d.PolledAt)),
		sql.Named("exp", ms(d.ExpiresAt))); err != nil {
		return s.d.fail("put device code", err)
	}
	return s.d.fail("put device code", tx.Commit())
}

func (s deviceCodes) GetByUserCode(ctx context.Context, userCodeHash string) (string, *store.DeviceCode, error) {
	var hash string
	row := s.d.readRow(ctx, `SELECT hash, `+deviceColumns+` FROM device_codes
		WHERE user_code_hash = ? AND expires_at > ?`, userCodeHash, nowMS())
	d, err := scanDevice(hashScanner{row, &hash})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, store.ErrNotFound
	}
	if err != nil {
		return "", nil, s.d.fail("get device code", err)
	}
	return hash, d, nil
}

// hashScanner scans a leading hash column before scanDevice's columns.
type hashScanner struct {
	r    interface{ Scan(...any) error }
	hash *string
}

func (h hashScanner) Scan(dest ...any) error { return h.r.Scan(append([]any{h.hash}, dest...)...) }

func (s deviceCodes) Decide(ctx context.Context, hash string, status store.DeviceStatus, subject string, authTime time.Time) error {
	if status != store.DeviceApproved && status != store.DeviceDenied {
		return fmt.Errorf("sqlite: decide device code: status %q is not a decision", status)
	}
	now := nowMS()
	res, err := s.d.exec(ctx, `UPDATE device_codes SET status = :status, subject = :subject, auth_time = :auth
		WHERE hash = :hash AND status = 'pending' AND expires_at > :now`,
		sql.Named("status", string(status)), sql.Named("subject", subject), sql.Named("auth", zeroNullMS(authTime)),
		sql.Named("hash", hash), sql.Named("now", now))
	if err != nil {
		return s.d.fail("decide device code", err)
	}
	if err := affected(s.d, "decide device code", res, errLost); !errors.Is(err, errLost) {
		return err
	}
	// Lost: tell a decided record from a missing or expired one.
	var n int
	err = s.d.readRow(ctx, `SELECT count(*) FROM device_codes WHERE hash = ? AND expires_at > ?`, hash, now).Scan(&n)
	switch {
	case err != nil:
		return s.d.fail("decide device code", err)
	case n == 0:
		return store.ErrNotFound
	}
	return store.ErrReplayed
}

// errLost marks a conditional write that matched no row.
var errLost = errors.New("sqlite: no row matched")

func (s deviceCodes) Poll(ctx context.Context, hash string, at time.Time, step time.Duration) (*store.DeviceCode, bool, error) {
	// Read and write in one transaction: the writer pool's transactions
	// take SQLite's write lock at BEGIN (_txlock=immediate), so no other
	// poll can slip between the read of polled_at and the update. Rows
	// past expiry are still answered until Purge removes them.
	tx, err := s.d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, s.d.fail("poll device code", err)
	}
	defer tx.Rollback()
	d, err := scanDevice(s.d.txRow(ctx, tx, `SELECT `+deviceColumns+` FROM device_codes
		WHERE hash = ? AND expires_at + ? > ?`, hash, deviceRetentionMS, nowMS()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, store.ErrNotFound
	}
	if err != nil {
		return nil, false, s.d.fail("poll device code", err)
	}
	tooFast := !d.PolledAt.IsZero() && at.Sub(d.PolledAt) < d.Interval
	if tooFast {
		d.Interval += step
	}
	d.PolledAt = at
	if _, err := s.d.txExec(ctx, tx, `UPDATE device_codes SET interval_ms = ?, polled_at = ? WHERE hash = ?`,
		d.Interval.Milliseconds(), ms(at), hash); err != nil {
		return nil, false, s.d.fail("poll device code", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, s.d.fail("poll device code", err)
	}
	return d, tooFast, nil
}

func (s deviceCodes) Consume(ctx context.Context, hash string) (*store.DeviceCode, error) {
	now := nowMS()
	row := s.d.writeRow(ctx, `UPDATE device_codes SET status = 'consumed'
		WHERE hash = :hash AND status = 'approved' AND expires_at > :now
		RETURNING `+deviceColumns, sql.Named("hash", hash), sql.Named("now", now))
	d, err := scanDevice(row)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.d.fail("consume device code", err)
	}
	var status string
	err = s.d.readRow(ctx, `SELECT status FROM device_codes WHERE hash = ? AND expires_at > ?`, hash, now).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, s.d.fail("consume device code", err)
	case status == string(store.DeviceConsumed):
		return nil, store.ErrReplayed
	}
	return nil, store.ErrNotFound
}
