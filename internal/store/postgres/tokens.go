package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds what the token endpoint issues: grants, refresh tokens
// and access-token revocations.

type grants struct{ d *DB }

func (s grants) Put(ctx context.Context, g *store.Grant) error {
	n, err := s.d.exec(ctx, "put grant", `INSERT INTO grants
		(id, client_id, subject, scopes, auth_time, created_at, expires_at, revoked, params)
		VALUES (@id, @client, @subject, @scopes, @auth, @created, @exp, @revoked, @params)
		ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, subject = excluded.subject,
			scopes = excluded.scopes, auth_time = excluded.auth_time, created_at = excluded.created_at,
			expires_at = excluded.expires_at, revoked = excluded.revoked, params = excluded.params
		WHERE grants.expires_at <= @now`,
		pgx.NamedArgs{"id": g.ID, "client": g.ClientID, "subject": g.Subject, "scopes": g.Scopes,
			"auth": authMS(g.AuthTime), "created": ms(g.CreatedAt), "exp": ms(g.ExpiresAt), "revoked": g.Revoked,
			"params": blob(g.Params), "now": nowMS()})
	return wantOne(n, err, store.ErrConflict)
}

// authMS stores the zero time (no end-user authentication, as for
// client_credentials) as 0, so it comes back as the zero time.
func authMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// fromAuthMS is the inverse of authMS.
func fromAuthMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

func (s grants) Get(ctx context.Context, id string) (*store.Grant, error) {
	g := store.Grant{ID: id}
	var auth, created, exp int64
	err := s.d.row(ctx, "get grant", `SELECT client_id, subject, scopes, auth_time, created_at, expires_at, revoked, params
		FROM grants WHERE id = $1 AND expires_at > $2`, id, nowMS()).
		Scan(&g.ClientID, &g.Subject, &g.Scopes, &auth, &created, &exp, &g.Revoked, &g.Params)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	g.AuthTime, g.CreatedAt, g.ExpiresAt = fromAuthMS(auth), fromMS(created), fromMS(exp)
	return &g, nil
}

func (s grants) Revoke(ctx context.Context, id string) error {
	_, err := s.d.exec(ctx, "revoke grant", `UPDATE grants SET revoked = true WHERE id = $1`, id)
	return err
}

type refreshTokens struct{ d *DB }

// insertRefresh stores a token under @hash unless a live token holds it.
// It is shared by Put and Rotate so both treat expired rows the same way.
const insertRefresh = `INSERT INTO refresh_tokens
	(hash, grant_id, client_id, scopes, expires_at, created_at, rotated_at, params)
	VALUES (@hash, @grant, @client, @scopes, @exp, @created, @rotated, @params)
	ON CONFLICT (hash) DO UPDATE SET grant_id = excluded.grant_id, client_id = excluded.client_id,
		scopes = excluded.scopes, expires_at = excluded.expires_at, created_at = excluded.created_at,
		rotated_at = excluded.rotated_at, params = excluded.params
	WHERE refresh_tokens.expires_at <= @now`

func refreshArgs(hash string, t *store.RefreshToken, now int64) pgx.NamedArgs {
	return pgx.NamedArgs{
		"hash": hash, "grant": t.GrantID, "client": t.ClientID, "scopes": t.Scopes, "exp": ms(t.ExpiresAt),
		"created": ms(t.CreatedAt), "rotated": nullMS(t.RotatedAt), "params": blob(t.Params), "now": now,
	}
}

func (s refreshTokens) Put(ctx context.Context, hash string, t *store.RefreshToken) error {
	n, err := s.d.exec(ctx, "put refresh token", insertRefresh, refreshArgs(hash, t, nowMS()))
	return wantOne(n, err, store.ErrConflict)
}

func (s refreshTokens) Get(ctx context.Context, hash string) (*store.RefreshToken, error) {
	var t store.RefreshToken
	var exp, created int64
	var rotated *int64
	err := s.d.row(ctx, "get refresh token", `SELECT grant_id, client_id, scopes, expires_at, created_at, rotated_at, params
		FROM refresh_tokens WHERE hash = $1 AND expires_at > $2`, hash, nowMS()).
		Scan(&t.GrantID, &t.ClientID, &t.Scopes, &exp, &created, &rotated, &t.Params)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.ExpiresAt, t.CreatedAt, t.RotatedAt = fromMS(exp), fromMS(created), fromNullMS(rotated)
	return &t, nil
}

// errRotateDone ends a Rotate transaction early with a contract answer
// (ErrReplayed, ErrNotFound, ErrConflict), rolling it back.
type errRotateDone struct{ err error }

func (e errRotateDone) Error() string { return e.err.Error() }

// Rotate runs in one transaction. Its conditional UPDATE decides the race:
// the row lock makes concurrent callers wait, and each re-checks
// rotated_at IS NULL on the committed row, so exactly one changes it. If
// the successor cannot be stored the transaction rolls back, so a failed
// Rotate has no effect at all.
func (s refreshTokens) Rotate(ctx context.Context, oldHash string, at time.Time, newHash string, next *store.RefreshToken) error {
	const op = "rotate refresh token"
	if s.d.closed.Load() {
		return s.d.fail(op, errClosed)
	}
	now := nowMS()
	err := pgx.BeginFunc(ctx, s.d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $1
			WHERE hash = $2 AND rotated_at IS NULL AND expires_at > $3`, ms(at), oldHash, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM refresh_tokens WHERE hash = $1 AND expires_at > $2`, oldHash, now).Scan(&one)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return errRotateDone{store.ErrNotFound}
			case err != nil:
				return err
			}
			return errRotateDone{store.ErrReplayed}
		}
		tag, err = tx.Exec(ctx, insertRefresh, refreshArgs(newHash, next, now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errRotateDone{store.ErrConflict}
		}
		return nil
	})
	var done errRotateDone
	if errors.As(err, &done) {
		return done.err
	}
	return s.d.fail(op, err)
}

func (s refreshTokens) Delete(ctx context.Context, hash string) error {
	_, err := s.d.exec(ctx, "delete refresh token", `DELETE FROM refresh_tokens WHERE hash = $1`, hash)
	return err
}

type revocations struct{ d *DB }

// Revoke keeps the later of the stored and the new expiry: revocation only
// ever grows, so no call can make a revoked token valid again early.
func (s revocations) Revoke(ctx context.Context, jti string, exp time.Time) error {
	_, err := s.d.exec(ctx, "revoke", `INSERT INTO revocations (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revocations.expires_at, excluded.expires_at)`,
		jti, ms(exp))
	return err
}

func (s revocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.d.row(ctx, "is revoked", `SELECT 1 FROM revocations WHERE jti = $1 AND expires_at > $2`, jti, nowMS()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
