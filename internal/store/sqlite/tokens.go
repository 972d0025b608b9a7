package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds what the token endpoint issues: grants, refresh tokens
// and access-token revocations.

type grants struct{ d *DB }

func (s grants) Put(ctx context.Context, g *store.Grant) error {
	res, err := s.d.exec(ctx, `INSERT INTO grants
		(id, client_id, subject, scopes, auth_time, created_at, expires_at, revoked, params)
		VALUES (:id, :client, :subject, :scopes, :auth, :created, :exp, :revoked, :params)
		ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, subject = excluded.subject,
			scopes = excluded.scopes, auth_time = excluded.auth_time, created_at = excluded.created_at,
			expires_at = excluded.expires_at, revoked = excluded.revoked, params = excluded.params
		WHERE grants.expires_at <= :now`,
		sql.Named("id", g.ID), sql.Named("client", g.ClientID), sql.Named("subject", g.Subject),
		sql.Named("scopes", g.Scopes), sql.Named("auth", ms(g.AuthTime)), sql.Named("created", ms(g.CreatedAt)),
		sql.Named("exp", ms(g.ExpiresAt)), sql.Named("revoked", boolInt(g.Revoked)), sql.Named("params", blob(g.Params)),
		sql.Named("now", nowMS()))
	if err != nil {
		return s.d.fail("put grant", err)
	}
	return affected(s.d, "put grant", res, store.ErrConflict)
}

func (s grants) Get(ctx context.Context, id string) (*store.Grant, error) {
	g := store.Grant{ID: id}
	var auth, created, exp int64
	err := s.d.readRow(ctx, `SELECT client_id, subject, scopes, auth_time, created_at, expires_at, revoked, params
		FROM grants WHERE id = ? AND expires_at > ?`, id, nowMS()).
		Scan(&g.ClientID, &g.Subject, &g.Scopes, &auth, &created, &exp, &g.Revoked, &g.Params)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get grant", err)
	}
	g.AuthTime, g.CreatedAt, g.ExpiresAt = fromMS(auth), fromMS(created), fromMS(exp)
	return &g, nil
}

func (s grants) Revoke(ctx context.Context, id string) error {
	_, err := s.d.exec(ctx, `UPDATE grants SET revoked = 1 WHERE id = ?`, id)
	return s.d.fail("revoke grant", err)
}

type refreshTokens struct{ d *DB }

// insertRefresh stores t under hash unless a live token holds it. It is
// shared by Put and Rotate so both treat expired rows the same way.
const insertRefresh = `INSERT INTO refresh_tokens
	(hash, grant_id, client_id, scopes, expires_at, created_at, rotated_at, params)
	VALUES (:hash, :grant, :client, :scopes, :exp, :created, :rotated, :params)
	ON CONFLICT (hash) DO UPDATE SET grant_id = excluded.grant_id, client_id = excluded.client_id,
		scopes = excluded.scopes, expires_at = excluded.expires_at, created_at = excluded.created_at,
		rotated_at = excluded.rotated_at, params = excluded.params
	WHERE refresh_tokens.expires_at <= :now`

func refreshArgs(hash string, t *store.RefreshToken, now int64) []any {
	return []any{
		sql.Named("hash", hash), sql.Named("grant", t.GrantID), sql.Named("client", t.ClientID),
		sql.Named("scopes", t.Scopes), sql.Named("exp", ms(t.ExpiresAt)), sql.Named("created", ms(t.CreatedAt)),
		sql.Named("rotated", nullMS(t.RotatedAt)), sql.Named("params", blob(t.Params)), sql.Named("now", now),
	}
}

func (s refreshTokens) Put(ctx context.Context, hash string, t *store.RefreshToken) error {
	res, err := s.d.exec(ctx, insertRefresh, refreshArgs(hash, t, nowMS())...)
	if err != nil {
		return s.d.fail("put refresh token", err)
	}
	return affected(s.d, "put refresh token", res, store.ErrConflict)
}

func (s refreshTokens) Get(ctx context.Context, hash string) (*store.RefreshToken, error) {
	var t store.RefreshToken
	var exp, created int64
	var rotated sql.NullInt64
	err := s.d.readRow(ctx, `SELECT grant_id, client_id, scopes, expires_at, created_at, rotated_at, params
		FROM refresh_tokens WHERE hash = ? AND expires_at > ?`, hash, nowMS()).
		Scan(&t.GrantID, &t.ClientID, &t.Scopes, &exp, &created, &rotated, &t.Params)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get refresh token", err)
	}
	t.ExpiresAt, t.CreatedAt, t.RotatedAt = fromMS(exp), fromMS(created), fromNullMS(rotated)
	return &t, nil
}

// Rotate runs in one IMMEDIATE transaction (the writer pool's _txlock), so
// the write lock is held from the first statement. The conditional UPDATE
// decides the race: exactly one caller changes the row. If the successor
// cannot be stored, the rollback un-rotates the old token, so a failed
// Rotate has no effect at all.
func (s refreshTokens) Rotate(ctx context.Context, oldHash string, at time.Time, newHash string, next *store.RefreshToken) error {
	tx, err := s.d.w.BeginTx(ctx, nil)
	if err != nil {
		return s.d.fail("rotate refresh token", err)
	}
	defer tx.Rollback()
	now := nowMS()
	res, err := s.d.txExec(ctx, tx, `UPDATE refresh_tokens SET rotated_at = ?
		WHERE hash = ? AND rotated_at IS NULL AND expires_at > ?`, ms(at), oldHash, now)
	if err != nil {
		return s.d.fail("rotate refresh token", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.d.fail("rotate refresh token", err)
	} else if n == 0 {
		var one int
		err := s.d.txRow(ctx, tx, `SELECT 1 FROM refresh_tokens WHERE hash = ? AND expires_at > ?`, oldHash, now).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return s.d.fail("rotate refresh token", err)
		}
		return store.ErrReplayed
	}
	res, err = s.d.txExec(ctx, tx, insertRefresh, refreshArgs(newHash, next, now)...)
	if err != nil {
		return s.d.fail("rotate refresh token", err)
	}
	if err := affected(s.d, "rotate refresh token", res, store.ErrConflict); err != nil {
		return err
	}
	return s.d.fail("rotate refresh token", tx.Commit())
}

func (s refreshTokens) Delete(ctx context.Context, hash string) error {
	_, err := s.d.exec(ctx, `DELETE FROM refresh_tokens WHERE hash = ?`, hash)
	return s.d.fail("delete refresh token", err)
}

type revocations struct{ d *DB }

// Revoke keeps the later of the stored and the new expiry: revocation only
// ever grows, so no call can make a revoked token valid again early.
func (s revocations) Revoke(ctx context.Context, jti string, exp time.Time) error {
	_, err := s.d.exec(ctx, `INSERT INTO revocations (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = max(revocations.expires_at, excluded.expires_at)`,
		jti, ms(exp))
	return s.d.fail("revoke", err)
}

func (s revocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.d.readRow(ctx, `SELECT 1 FROM revocations WHERE jti = ? AND expires_at > ?`, jti, nowMS()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.d.fail("is revoked", err)
	}
	return true, nil
}
