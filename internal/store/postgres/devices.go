package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// DeviceRetention is how long a device authorization is kept after it
// expires, so a device still polling is told expired_token rather than
// invalid_grant; DeviceCodes.Poll returns such rows until Purge removes
// them. It matches package sqlite.
const DeviceRetention = 10 * time.Minute

// deviceRetentionMS is DeviceRetention as the SQL statements use it.
var deviceRetentionMS = DeviceRetention.Milliseconds()

type deviceCodes struct{ d *DB }

var _ store.DeviceCodes = deviceCodes{}

// deviceColumns are the columns scanDevice reads, in its order.
const deviceColumns = `user_code_hash, client_id, scopes, params, status, subject, auth_time, interval_ms, polled_at, expires_at`

func scanDevice(r scanner, lead ...any) (*store.DeviceCode, error) {
	var d store.DeviceCode
	var status string
	var auth, polled *int64
	var interval, exp int64
	dest := append(lead, &d.UserCodeHash, &d.ClientID, &d.Scopes, &d.Params, &status, &d.Subject, &auth, &interval, &polled, &exp)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	d.Status = store.DeviceStatus(status)
	d.Interval = time.Duration(interval) * time.Millisecond
	d.ExpiresAt = fromMS(exp)
	if auth != nil {
		d.AuthTime = fromMS(*auth)
	}
	if polled != nil {
		d.PolledAt = fromMS(*polled)
	}
	return &d, nil
}

// zeroNull stores the zero time as NULL: a pending row has neither a
// decision time nor a poll yet.
func zeroNull(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	return nullMS(&t)
}

// Put clears expired rows holding the same hash or user code, then
// inserts, in one transaction; a live row with either key makes the
// insert a unique violation, reported as ErrConflict. Two concurrent Puts
// of one key serialise on the unique index: the second fails.
func (s deviceCodes) Put(ctx context.Context, hash string, d *store.DeviceCode) error {
	const op = "put device code"
	if s.d.closed.Load() {
		return s.d.fail(op, errClosed)
	}
	now := nowMS()
	err := pgx.BeginFunc(ctx, s.d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_codes
			WHERE (hash = $1 OR user_code_hash = $2) AND expires_at <= $3`, hash, d.UserCodeHash, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_codes (hash, `+deviceColumns+`)
			VALUES (@hash, @user, @client, @scopes, @params, @status, @subject, @auth, @interval, @polled, @exp)`,
			pgx.NamedArgs{"hash": hash, "user": d.UserCodeHash, "client": d.ClientID, "scopes": d.Scopes,
				"params": blob(d.Params), "status": string(d.Status), "subject": d.Subject, "auth": zeroNull(d.AuthTime),
				"interval": d.Interval.Milliseconds(), "polled": zeroNull(d.PolledAt), "exp": ms(d.ExpiresAt)})
		return err
	})
	return s.d.fail(op, err)
}

func (s deviceCodes) GetByUserCode(ctx context.Context, userCodeHash string) (string, *store.DeviceCode, error) {
	var hash string
	d, err := scanDevice(s.d.row(ctx, "get device code", `SELECT hash, `+deviceColumns+` FROM device_codes
		WHERE user_code_hash = $1 AND expires_at > $2`, userCodeHash, nowMS()), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, store.ErrNotFound
	}
	if err != nil {
		return "", nil, err
	}
	return hash, d, nil
}

func (s deviceCodes) Decide(ctx context.Context, hash string, status store.DeviceStatus, subject string, authTime time.Time) error {
	if status != store.DeviceApproved && status != store.DeviceDenied {
		return fmt.Errorf("postgres: decide device code: status %q is not a decision", status)
	}
	now := nowMS()
	n, err := s.d.exec(ctx, "decide device code", `UPDATE device_codes SET status = @status, subject = @subject, auth_time = @auth
		WHERE hash = @hash AND status = 'pending' AND expires_at > @now`,
		pgx.NamedArgs{"status": string(status), "subject": subject, "auth": zeroNull(authTime), "hash": hash, "now": now})
	if err != nil || n == 1 {
		return err
	}
	// Lost: tell a decided record from a missing or expired one.
	var one int
	err = s.d.row(ctx, "decide device code", `SELECT 1 FROM device_codes WHERE hash = $1 AND expires_at > $2`, hash, now).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return store.ErrReplayed
}

// Poll reads the row FOR UPDATE and writes the poll in one transaction,
// so concurrent polls of one device code are serialised on its row lock
// and each sees the poll time the previous one stored. Rows past expiry
// are answered until Purge removes them (DeviceRetention).
func (s deviceCodes) Poll(ctx context.Context, hash string, at time.Time, step time.Duration) (*store.DeviceCode, bool, error) {
	const op = "poll device code"
	if s.d.closed.Load() {
		return nil, false, s.d.fail(op, errClosed)
	}
	var d *store.DeviceCode
	var tooFast bool
	err := pgx.BeginFunc(ctx, s.d.pool, func(tx pgx.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRow(ctx, `SELECT `+deviceColumns+` FROM device_codes
			WHERE hash = $1 AND expires_at + $2 > $3 FOR UPDATE`, hash, deviceRetentionMS, nowMS()))
		if err != nil {
			return err
		}
		tooFast = !d.PolledAt.IsZero() && at.Sub(d.PolledAt) < d.Interval
		if tooFast {
			d.Interval += step
		}
		d.PolledAt = at
		_, err = tx.Exec(ctx, `UPDATE device_codes SET interval_ms = $1, polled_at = $2 WHERE hash = $3`,
			d.Interval.Milliseconds(), ms(at), hash)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, store.ErrNotFound
	}
	if err != nil {
		return nil, false, s.d.fail(op, err)
	}
	return d, tooFast, nil
}

func (s deviceCodes) Consume(ctx context.Context, hash string) (*store.DeviceCode, error) {
	const op = "consume device code"
	now := nowMS()
	d, err := scanDevice(s.d.row(ctx, op, `UPDATE device_codes SET status = 'consumed'
		WHERE hash = $1 AND status = 'approved' AND expires_at > $2
		RETURNING `+deviceColumns, hash, now))
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	var status string
	err = s.d.row(ctx, op, `SELECT status FROM device_codes WHERE hash = $1 AND expires_at > $2`, hash, now).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, err
	case status == string(store.DeviceConsumed):
		return nil, store.ErrReplayed
	}
	return nil, store.ErrNotFound
}
