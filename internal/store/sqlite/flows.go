package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the short-lived, single-use records of the authorization
// flow: pushed requests, codes, browser sessions and the replay guard.
//
// Every single-use step is one SQL statement whose WHERE clause is the
// whole decision ("unused and unexpired"), so SQLite's write lock makes it
// atomic; a follow-up SELECT runs only after the statement lost, to tell
// the caller why. Put replaces a row only when it is dead (expired and, for
// codes, past replay retention), so expired rows behave as missing before
// Purge gets to them.

type requests struct{ d *DB }

func (s requests) Put(ctx context.Context, hash string, r *store.AuthorizationRequest) error {
	res, err := s.d.exec(ctx, `INSERT INTO requests (hash, client_id, params, expires_at, used_at)
		VALUES (:hash, :client, :params, :exp, NULL)
		ON CONFLICT (hash) DO UPDATE SET client_id = excluded.client_id, params = excluded.params,
			expires_at = excluded.expires_at, used_at = NULL
		WHERE requests.expires_at <= :now`,
		sql.Named("hash", hash), sql.Named("client", r.ClientID), sql.Named("params", blob(r.Params)),
		sql.Named("exp", ms(r.ExpiresAt)), sql.Named("now", nowMS()))
	if err != nil {
		return s.d.fail("put request", err)
	}
	return affected(s.d, "put request", res, store.ErrConflict)
}

func (s requests) Get(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	var r store.AuthorizationRequest
	var exp int64
	err := s.d.readRow(ctx, `SELECT client_id, params, expires_at FROM requests
		WHERE hash = ? AND used_at IS NULL AND expires_at > ?`, hash, nowMS()).Scan(&r.ClientID, &r.Params, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get request", err)
	}
	r.ExpiresAt = fromMS(exp)
	return &r, nil
}

func (s requests) Consume(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	now := nowMS()
	var r store.AuthorizationRequest
	var exp int64
	err := s.d.writeRow(ctx, `UPDATE requests SET used_at = :now
		WHERE hash = :hash AND used_at IS NULL AND expires_at > :now
		RETURNING client_id, params, expires_at`,
		sql.Named("now", now), sql.Named("hash", hash)).Scan(&r.ClientID, &r.Params, &exp)
	if err == nil {
		r.ExpiresAt = fromMS(exp)
		return &r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.d.fail("consume request", err)
	}
	var used sql.NullInt64
	err = s.d.readRow(ctx, `SELECT used_at FROM requests WHERE hash = ?`, hash).Scan(&used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, s.d.fail("consume request", err)
	case used.Valid:
		return nil, store.ErrReplayed
	}
	return nil, store.ErrNotFound // present but expired
}

type codes struct{ d *DB }

// retentionMS is CodeRetention as the SQL statements use it.
var retentionMS = CodeRetention.Milliseconds()

func (s codes) Put(ctx context.Context, hash string, c *store.AuthorizationCode) error {
	res, err := s.d.exec(ctx, `INSERT INTO codes (hash, client_id, grant_id, params, expires_at, used_at)
		VALUES (:hash, :client, :grant, :params, :exp, NULL)
		ON CONFLICT (hash) DO UPDATE SET client_id = excluded.client_id, grant_id = excluded.grant_id,
			params = excluded.params, expires_at = excluded.expires_at, used_at = NULL
		WHERE codes.expires_at <= :now AND (codes.used_at IS NULL OR codes.expires_at + :retention <= :now)`,
		sql.Named("hash", hash), sql.Named("client", c.ClientID), sql.Named("grant", c.GrantID),
		sql.Named("params", blob(c.Params)), sql.Named("exp", ms(c.ExpiresAt)),
		sql.Named("now", nowMS()), sql.Named("retention", retentionMS))
	if err != nil {
		return s.d.fail("put code", err)
	}
	return affected(s.d, "put code", res, store.ErrConflict)
}

func (s codes) Consume(ctx context.Context, hash string) (*store.AuthorizationCode, error) {
	now := nowMS()
	var c store.AuthorizationCode
	var exp int64
	err := s.d.writeRow(ctx, `UPDATE codes SET used_at = :now
		WHERE hash = :hash AND used_at IS NULL AND expires_at > :now
		RETURNING client_id, grant_id, params, expires_at`,
		sql.Named("now", now), sql.Named("hash", hash)).Scan(&c.ClientID, &c.GrantID, &c.Params, &exp)
	if err == nil {
		c.ExpiresAt = fromMS(exp)
		return &c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.d.fail("consume code", err)
	}
	// Lost: the code is unknown, expired unused, or used. Only a used code
	// inside its retention window is a replay, returned with its record so
	// the caller can revoke the grant.
	err = s.d.readRow(ctx, `SELECT client_id, grant_id, params, expires_at FROM codes
		WHERE hash = ? AND used_at IS NOT NULL AND expires_at + ? > ?`, hash, retentionMS, now).
		Scan(&c.ClientID, &c.GrantID, &c.Params, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("consume code", err)
	}
	c.ExpiresAt = fromMS(exp)
	return &c, store.ErrReplayed
}

type sessions struct{ d *DB }

func (s sessions) Put(ctx context.Context, hash string, sess *store.Session) error {
	res, err := s.d.exec(ctx, `INSERT INTO sessions (hash, subject, auth_time, expires_at)
		VALUES (:hash, :subject, :auth, :exp)
		ON CONFLICT (hash) DO UPDATE SET subject = excluded.subject, auth_time = excluded.auth_time,
			expires_at = excluded.expires_at
		WHERE sessions.expires_at <= :now`,
		sql.Named("hash", hash), sql.Named("subject", sess.Subject), sql.Named("auth", ms(sess.AuthTime)),
		sql.Named("exp", ms(sess.ExpiresAt)), sql.Named("now", nowMS()))
	if err != nil {
		return s.d.fail("put session", err)
	}
	return affected(s.d, "put session", res, store.ErrConflict)
}

func (s sessions) Get(ctx context.Context, hash string) (*store.Session, error) {
	var sess store.Session
	var auth, exp int64
	err := s.d.readRow(ctx, `SELECT subject, auth_time, expires_at FROM sessions
		WHERE hash = ? AND expires_at > ?`, hash, nowMS()).Scan(&sess.Subject, &auth, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get session", err)
	}
	sess.AuthTime, sess.ExpiresAt = fromMS(auth), fromMS(exp)
	return &sess, nil
}

func (s sessions) Delete(ctx context.Context, hash string) error {
	_, err := s.d.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return s.d.fail("delete session", err)
}
