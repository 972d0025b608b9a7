package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the long-lived records: clients, users, signing keys and
// remembered consents. None of them expire.

type clients struct{ d *DB }

func (s clients) Get(ctx context.Context, id string) (*store.Client, error) {
	c := store.Client{ID: id}
	var updated int64
	err := s.d.readRow(ctx, `SELECT secret_hash, registration_hash, metadata, updated_at FROM clients WHERE id = ?`, id).
		Scan(&c.SecretHash, &c.RegistrationHash, &c.Metadata, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get client", err)
	}
	c.UpdatedAt = fromMS(updated)
	return &c, nil
}

func (s clients) Put(ctx context.Context, c *store.Client) error {
	_, err := s.d.exec(ctx, `INSERT INTO clients (id, secret_hash, registration_hash, metadata, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, registration_hash = excluded.registration_hash, metadata = excluded.metadata, updated_at = excluded.updated_at`,
		c.ID, c.SecretHash, c.RegistrationHash, blob(c.Metadata), ms(c.UpdatedAt))
	return s.d.fail("put client", err)
}

func (s clients) Delete(ctx context.Context, id string) error {
	_, err := s.d.exec(ctx, `DELETE FROM clients WHERE id = ?`, id)
	return s.d.fail("delete client", err)
}

func (s clients) List(ctx context.Context, p store.Page) ([]*store.Client, error) {
	rows, err := s.d.query(ctx, `SELECT id, secret_hash, registration_hash, metadata, updated_at FROM clients WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.Size())
	if err != nil {
		return nil, s.d.fail("list clients", err)
	}
	defer rows.Close()
	out := []*store.Client{}
	for rows.Next() {
		var c store.Client
		var updated int64
		if err := rows.Scan(&c.ID, &c.SecretHash, &c.RegistrationHash, &c.Metadata, &updated); err != nil {
			return nil, s.d.fail("list clients", err)
		}
		c.UpdatedAt = fromMS(updated)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.fail("list clients", err)
	}
	return out, nil
}

type users struct{ d *DB }

const userColumns = `subject, username, password_hash, claims, disabled`

func scanUser(r interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	err := r.Scan(&u.Subject, &u.Username, &u.PasswordHash, &u.Claims, &u.Disabled)
	return &u, err
}

func (s users) Get(ctx context.Context, subject string) (*store.User, error) {
	u, err := scanUser(s.d.readRow(ctx, `SELECT `+userColumns+` FROM users WHERE subject = ?`, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get user", err)
	}
	return u, nil
}

func (s users) GetByUsername(ctx context.Context, username string) (*store.User, error) {
	u, err := scanUser(s.d.readRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get user", err)
	}
	return u, nil
}

// Put relies on the UNIQUE constraint on username: a different subject
// holding the name fails the statement, which fail maps to ErrConflict.
func (s users) Put(ctx context.Context, u *store.User) error {
	_, err := s.d.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET username = excluded.username, password_hash = excluded.password_hash,
			claims = excluded.claims, disabled = excluded.disabled`,
		u.Subject, u.Username, u.PasswordHash, blob(u.Claims), boolInt(u.Disabled))
	return s.d.fail("put user", err)
}

type keys struct{ d *DB }

func (s keys) List(ctx context.Context) ([]*store.SigningKey, error) {
	rows, err := s.d.query(ctx, `SELECT id, algorithm, private, active, created_at, retired_at, active_from
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, s.d.fail("list keys", err)
	}
	defer rows.Close()
	out := []*store.SigningKey{}
	for rows.Next() {
		var k store.SigningKey
		var created int64
		var retired, from sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Private, &k.Active, &created, &retired, &from); err != nil {
			return nil, s.d.fail("list keys", err)
		}
		k.CreatedAt, k.RetiredAt = fromMS(created), fromNullMS(retired)
		if f := fromNullMS(from); f != nil {
			k.ActiveFrom = *f
		}
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.fail("list keys", err)
	}
	return out, nil
}

func (s keys) Add(ctx context.Context, k *store.SigningKey) error {
	_, err := s.d.exec(ctx, `INSERT INTO signing_keys (id, algorithm, private, active, created_at, retired_at, active_from)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, blob(k.Private), boolInt(k.Active), ms(k.CreatedAt), nullMS(k.RetiredAt), nullMS(nonZero(k.ActiveFrom)))
	return s.d.fail("add key", err)
}

func (s keys) Update(ctx context.Context, k *store.SigningKey) error {
	res, err := s.d.exec(ctx, `UPDATE signing_keys SET active = ?, retired_at = ? WHERE id = ?`,
		boolInt(k.Active), nullMS(k.RetiredAt), k.ID)
	if err != nil {
		return s.d.fail("update key", err)
	}
	return affected(s.d, "update key", res, store.ErrNotFound)
}

type consents struct{ d *DB }

func (s consents) Get(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	c := store.Consent{Subject: subject, ClientID: clientID}
	var granted int64
	err := s.d.readRow(ctx, `SELECT scopes, granted_at FROM consents WHERE subject = ? AND client_id = ?`,
		subject, clientID).Scan(&c.Scopes, &granted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.d.fail("get consent", err)
	}
	c.GrantedAt = fromMS(granted)
	return &c, nil
}

func (s consents) Put(ctx context.Context, c *store.Consent) error {
	_, err := s.d.exec(ctx, `INSERT INTO consents (subject, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.Subject, c.ClientID, c.Scopes, ms(c.GrantedAt))
	return s.d.fail("put consent", err)
}

func (s consents) Delete(ctx context.Context, subject, clientID string) error {
	_, err := s.d.exec(ctx, `DELETE FROM consents WHERE subject = ? AND client_id = ?`, subject, clientID)
	return s.d.fail("delete consent", err)
}

// affected turns a statement that changed no row into none, the error the
// caller chose for that case (ErrNotFound, ErrConflict, ErrReplayed).
func affected(d *DB, op string, res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return d.fail(op, err)
	}
	if n == 0 {
		return none
	}
	return nil
}
