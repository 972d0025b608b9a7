package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the listings behind the admin API and the audit log.
// Every listing pages by key (WHERE key > $n ORDER BY key LIMIT $m), an
// index range scan whatever the table's size.

func (s users) List(ctx context.Context, p store.Page) ([]*store.User, error) {
	return list(s.d, ctx, "list users", `SELECT `+userColumns+` FROM users WHERE subject > $1 ORDER BY subject LIMIT $2`,
		[]any{p.After, p.Size()}, func(r pgx.Rows) (*store.User, error) {
			var u store.User
			err := r.Scan(&u.Subject, &u.Username, &u.PasswordHash, &u.Claims, &u.Disabled)
			return &u, err
		})
}

func (s grants) RevokeAll(ctx context.Context, clientID, subject string) error {
	_, err := s.d.exec(ctx, "revoke grants", `UPDATE grants SET revoked = true
		WHERE client_id = $1 AND ($2 = '' OR subject = $2) AND NOT revoked`, clientID, subject)
	return err
}

func scanConsent(r pgx.Rows) (*store.Consent, error) {
	var c store.Consent
	var granted int64
	err := r.Scan(&c.Subject, &c.ClientID, &c.Scopes, &granted)
	c.GrantedAt = fromMS(granted)
	return &c, err
}

func (s consents) List(ctx context.Context, q store.ConsentQuery) ([]*store.Consent, error) {
	switch {
	case q.Subject != "":
		return list(s.d, ctx, "list consents", `SELECT subject, client_id, scopes, granted_at FROM consents
			WHERE subject = $1 AND ($2 = '' OR client_id = $2) AND client_id > $3 ORDER BY client_id LIMIT $4`,
			[]any{q.Subject, q.ClientID, q.Page.After, q.Page.Size()}, scanConsent)
	case q.ClientID != "":
		return list(s.d, ctx, "list consents", `SELECT subject, client_id, scopes, granted_at FROM consents
			WHERE client_id = $1 AND subject > $2 ORDER BY subject LIMIT $3`,
			[]any{q.ClientID, q.Page.After, q.Page.Size()}, scanConsent)
	}
	return []*store.Consent{}, nil
}

func (s sessions) List(ctx context.Context, subject string, p store.Page) ([]*store.Session, error) {
	return list(s.d, ctx, "list sessions", `SELECT hash, subject, auth_time, expires_at FROM sessions
		WHERE subject = $1 AND hash > $2 AND expires_at > $3 ORDER BY hash LIMIT $4`,
		[]any{subject, p.After, nowMS(), p.Size()}, func(r pgx.Rows) (*store.Session, error) {
			var sess store.Session
			var auth, exp int64
			err := r.Scan(&sess.Hash, &sess.Subject, &auth, &exp)
			sess.AuthTime, sess.ExpiresAt = fromMS(auth), fromMS(exp)
			return &sess, err
		})
}

type audit struct{ d *DB }

func (s audit) Append(ctx context.Context, e *store.AuditEvent) error {
	n, err := s.d.exec(ctx, "append audit", `INSERT INTO audit (id, time, action, actor, target, outcome, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		e.ID, ms(e.Time), e.Action, e.Actor, e.Target, e.Outcome, blob(e.Details))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

func (s audit) List(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	before := q.Page.After
	if before == "" {
		// Above every ID NewAuditID makes (hex digits only).
		before = "~"
	}
	return list(s.d, ctx, "list audit", `SELECT id, time, action, actor, target, outcome, details FROM audit
		WHERE ($1 = '' OR action = $1) AND id < $2 ORDER BY id DESC LIMIT $3`,
		[]any{q.Action, before, q.Page.Size()}, func(r pgx.Rows) (*store.AuditEvent, error) {
			var e store.AuditEvent
			var t int64
			err := r.Scan(&e.ID, &t, &e.Action, &e.Actor, &e.Target, &e.Outcome, &e.Details)
			e.Time = fromMS(t)
			return &e, err
		})
}
