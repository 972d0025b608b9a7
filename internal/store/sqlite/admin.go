package sqlite

import (
	"context"
	"database/sql"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the listings behind the admin API and the audit log.
// Every listing pages by key (WHERE key > ? ORDER BY key LIMIT ?), so a
// page is an index range scan whatever the table's size.

// collect scans every row with scan and closes rows.
func collect[T any](d *DB, op string, rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, d.fail(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, d.fail(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, d.fail(op, err)
	}
	return out, nil
}

func (s users) List(ctx context.Context, p store.Page) ([]*store.User, error) {
	rows, err := s.d.query(ctx, `SELECT `+userColumns+` FROM users WHERE subject > ? ORDER BY subject LIMIT ?`, p.After, p.Size())
	return collect(s.d, "list users", rows, err, func(r *sql.Rows) (*store.User, error) { return scanUser(r) })
}

func (s grants) RevokeAll(ctx context.Context, clientID, subject string) error {
	_, err := s.d.exec(ctx, `UPDATE grants SET revoked = 1 WHERE client_id = :client AND (:subject = '' OR subject = :subject) AND revoked = 0`,
		sql.Named("client", clientID), sql.Named("subject", subject))
	return s.d.fail("revoke grants", err)
}

func (s consents) List(ctx context.Context, q store.ConsentQuery) ([]*store.Consent, error) {
	var rows *sql.Rows
	var err error
	switch {
	case q.Subject != "":
		rows, err = s.d.query(ctx, `SELECT subject, client_id, scopes, granted_at FROM consents
			WHERE subject = :subject AND (:client = '' OR client_id = :client) AND client_id > :after ORDER BY client_id LIMIT :limit`,
			sql.Named("subject", q.Subject), sql.Named("client", q.ClientID), sql.Named("after", q.Page.After), sql.Named("limit", q.Page.Size()))
	case q.ClientID != "":
		rows, err = s.d.query(ctx, `SELECT subject, client_id, scopes, granted_at FROM consents
			WHERE client_id = :client AND subject > :after ORDER BY subject LIMIT :limit`,
			sql.Named("client", q.ClientID), sql.Named("after", q.Page.After), sql.Named("limit", q.Page.Size()))
	default:
		return []*store.Consent{}, nil
	}
	return collect(s.d, "list consents", rows, err, func(r *sql.Rows) (*store.Consent, error) {
		var c store.Consent
		var granted int64
		err := r.Scan(&c.Subject, &c.ClientID, &c.Scopes, &granted)
		c.GrantedAt = fromMS(granted)
		return &c, err
	})
}

func (s sessions) List(ctx context.Context, subject string, p store.Page) ([]*store.Session, error) {
	rows, err := s.d.query(ctx, `SELECT hash, subject, auth_time, expires_at FROM sessions
		WHERE subject = ? AND hash > ? AND expires_at > ? ORDER BY hash LIMIT ?`, subject, p.After, nowMS(), p.Size())
	return collect(s.d, "list sessions", rows, err, func(r *sql.Rows) (*store.Session, error) {
		var sess store.Session
		var auth, exp int64
		err := r.Scan(&sess.Hash, &sess.Subject, &auth, &exp)
		sess.AuthTime, sess.ExpiresAt = fromMS(auth), fromMS(exp)
		return &sess, err
	})
}

type audit struct{ d *DB }

func (s audit) Append(ctx context.Context, e *store.AuditEvent) error {
	res, err := s.d.exec(ctx, `INSERT INTO audit (id, time, action, actor, target, outcome, details)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		e.ID, ms(e.Time), e.Action, e.Actor, e.Target, e.Outcome, blob(e.Details))
	if err != nil {
		return s.d.fail("append audit", err)
	}
	return affected(s.d, "append audit", res, store.ErrConflict)
}

func (s audit) List(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	before := q.Page.After
	if before == "" {
		// Above every ID NewAuditID makes (hex digits only).
		before = "~"
	}
	var rows *sql.Rows
	var err error
	const cols = `SELECT id, time, action, actor, target, outcome, details FROM audit`
	if q.Action == "" {
		rows, err = s.d.query(ctx, cols+` WHERE id < ? ORDER BY id DESC LIMIT ?`, before, q.Page.Size())
	} else {
		rows, err = s.d.query(ctx, cols+` WHERE action = ? AND id < ? ORDER BY id DESC LIMIT ?`, q.Action, before, q.Page.Size())
	}
	return collect(s.d, "list audit", rows, err, func(r *sql.Rows) (*store.AuditEvent, error) {
		var e store.AuditEvent
		var t int64
		err := r.Scan(&e.ID, &t, &e.Action, &e.Actor, &e.Target, &e.Outcome, &e.Details)
		e.Time = fromMS(t)
		return &e, err
	})
}
