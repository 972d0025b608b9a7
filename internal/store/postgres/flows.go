package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the short-lived, single-use records of the authorization
// flow: pushed requests, codes, browser sessions and the replay guard.
//
// Every single-use step is one statement whose WHERE clause is the whole
// decision ("unused and unexpired"). Put replaces a row only when it is
// dead (expired and, for codes, past replay retention), inside
// INSERT … ON CONFLICT DO UPDATE … WHERE, so expired rows behave as
// missing before Purge gets to them and two concurrent Puts of one hash
// cannot both succeed.

type requests struct{ d *DB }

func (s requests) Put(ctx context.Context, hash string, r *store.AuthorizationRequest) error {
	n, err := s.d.exec(ctx, "put request", `INSERT INTO requests (hash, client_id, params, expires_at, used_at)
		VALUES (@hash, @client, @params, @exp, NULL)
		ON CONFLICT (hash) DO UPDATE SET client_id = excluded.client_id, params = excluded.params,
			expires_at = excluded.expires_at, used_at = NULL
		WHERE requests.expires_at <= @now`,
		pgx.NamedArgs{"hash": hash, "client": r.ClientID, "params": blob(r.Params), "exp": ms(r.ExpiresAt), "now": nowMS()})
	return wantOne(n, err, store.ErrConflict)
}

func (s requests) Get(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	var r store.AuthorizationRequest
	var exp int64
	err := s.d.row(ctx, "get request", `SELECT client_id, params, expires_at FROM requests
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, nowMS()).Scan(&r.ClientID, &r.Params, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.ExpiresAt = fromMS(exp)
	return &r, nil
}

func (s requests) Consume(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	now := nowMS()
	var r store.AuthorizationRequest
	var exp int64
	err := s.d.row(ctx, "consume request", `UPDATE requests SET used_at = @now
		WHERE hash = @hash AND used_at IS NULL AND expires_at > @now
		RETURNING client_id, params, expires_at`,
		pgx.NamedArgs{"now": now, "hash": hash}).Scan(&r.ClientID, &r.Params, &exp)
	if err == nil {
		r.ExpiresAt = fromMS(exp)
		return &r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	// Lost. The decision is made; this read only says why.
	var used *int64
	err = s.d.row(ctx, "consume request", `SELECT used_at FROM requests WHERE hash = $1`, hash).Scan(&used)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, err
	case used != nil:
		return nil, store.ErrReplayed
	}
	return nil, store.ErrNotFound // present but expired
}

type codes struct{ d *DB }

func (s codes) Put(ctx context.Context, hash string, c *store.AuthorizationCode) error {
	n, err := s.d.exec(ctx, "put code", `INSERT INTO codes (hash, client_id, grant_id, params, expires_at, used_at)
		VALUES (@hash, @client, @grant, @params, @exp, NULL)
		ON CONFLICT (hash) DO UPDATE SET client_id = excluded.client_id, grant_id = excluded.grant_id,
			params = excluded.params, expires_at = excluded.expires_at, used_at = NULL
		WHERE codes.expires_at <= @now AND (codes.used_at IS NULL OR codes.expires_at + @retention <= @now)`,
		pgx.NamedArgs{"hash": hash, "client": c.ClientID, "grant": c.GrantID, "params": blob(c.Params),
			"exp": ms(c.ExpiresAt), "now": nowMS(), "retention": retentionMS})
	return wantOne(n, err, store.ErrConflict)
}

func (s codes) Consume(ctx context.Context, hash string) (*store.AuthorizationCode, error) {
	now := nowMS()
	var c store.AuthorizationCode
	var exp int64
	err := s.d.row(ctx, "consume code", `UPDATE codes SET used_at = @now
		WHERE hash = @hash AND used_at IS NULL AND expires_at > @now
		RETURNING client_id, grant_id, params, expires_at`,
		pgx.NamedArgs{"now": now, "hash": hash}).Scan(&c.ClientID, &c.GrantID, &c.Params, &exp)
	if err == nil {
		c.ExpiresAt = fromMS(exp)
		return &c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	// Lost: the code is unknown, expired unused, or used. Only a used code
	// inside its retention window is a replay, returned with its record so
	// the caller can revoke the grant.
	err = s.d.row(ctx, "consume code", `SELECT client_id, grant_id, params, expires_at FROM codes
		WHERE hash = $1 AND used_at IS NOT NULL AND expires_at + $2 > $3`, hash, retentionMS, now).
		Scan(&c.ClientID, &c.GrantID, &c.Params, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.ExpiresAt = fromMS(exp)
	return &c, store.ErrReplayed
}

type sessions struct{ d *DB }

func (s sessions) Put(ctx context.Context, hash string, sess *store.Session) error {
	n, err := s.d.exec(ctx, "put session", `INSERT INTO sessions (hash, subject, auth_time, expires_at)
		VALUES (@hash, @subject, @auth, @exp)
		ON CONFLICT (hash) DO UPDATE SET subject = excluded.subject, auth_time = excluded.auth_time,
			expires_at = excluded.expires_at
		WHERE sessions.expires_at <= @now`,
		pgx.NamedArgs{"hash": hash, "subject": sess.Subject, "auth": ms(sess.AuthTime), "exp": ms(sess.ExpiresAt), "now": nowMS()})
	return wantOne(n, err, store.ErrConflict)
}

func (s sessions) Get(ctx context.Context, hash string) (*store.Session, error) {
	var sess store.Session
	var auth, exp int64
	err := s.d.row(ctx, "get session", `SELECT subject, auth_time, expires_at FROM sessions
		WHERE hash = $1 AND expires_at > $2`, hash, nowMS()).Scan(&sess.Subject, &auth, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	sess.AuthTime, sess.ExpiresAt = fromMS(auth), fromMS(exp)
	return &sess, nil
}

func (s sessions) Delete(ctx context.Context, hash string) error {
	_, err := s.d.exec(ctx, "delete session", `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

type replay struct{ d *DB }

// Use is one upsert: a new key inserts, a dead key is taken over, and a
// live key leaves the row untouched, which shows as zero rows changed.
// ON CONFLICT DO UPDATE locks the conflicting row and evaluates its WHERE
// against the latest committed version, so of concurrent callers on any
// nodes exactly one changes the row.
func (s replay) Use(ctx context.Context, key string, exp time.Time) error {
	n, err := s.d.exec(ctx, "replay", `INSERT INTO replay (key, exp) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET exp = excluded.exp WHERE replay.exp <= $3`, key, ms(exp), nowMS())
	return wantOne(n, err, store.ErrReplayed)
}
