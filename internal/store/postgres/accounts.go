package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the long-lived records: clients, users, signing keys and
// remembered consents. None of them expire.

type clients struct{ d *DB }

func (s clients) Get(ctx context.Context, id string) (*store.Client, error) {
	c := store.Client{ID: id}
	var updated int64
	err := s.d.row(ctx, "get client", `SELECT secret_hash, registration_hash, metadata, updated_at FROM clients WHERE id = $1`, id).
		Scan(&c.SecretHash, &c.RegistrationHash, &c.Metadata, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.UpdatedAt = fromMS(updated)
	return &c, nil
}

func (s clients) Put(ctx context.Context, c *store.Client) error {
	_, err := s.d.exec(ctx, "put client", `INSERT INTO clients (id, secret_hash, registration_hash, metadata, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, registration_hash = excluded.registration_hash, metadata = excluded.metadata, updated_at = excluded.updated_at`,
		c.ID, c.SecretHash, c.RegistrationHash, blob(c.Metadata), ms(c.UpdatedAt))
	return err
}

func (s clients) Delete(ctx context.Context, id string) error {
	_, err := s.d.exec(ctx, "delete client", `DELETE FROM clients WHERE id = $1`, id)
	return err
}

func (s clients) List(ctx context.Context, p store.Page) ([]*store.Client, error) {
	return list(s.d, ctx, "list clients", `SELECT id, secret_hash, registration_hash, metadata, updated_at FROM clients WHERE id > $1 ORDER BY id LIMIT $2`,
		[]any{p.After, p.Size()}, func(r pgx.Rows) (*store.Client, error) {
			var c store.Client
			var updated int64
			err := r.Scan(&c.ID, &c.SecretHash, &c.RegistrationHash, &c.Metadata, &updated)
			c.UpdatedAt = fromMS(updated)
			return &c, err
		})
}

// list runs a query and scans every row with scan.
func list[T any](d *DB, ctx context.Context, op, sql string, args []any, scan func(pgx.Rows) (*T, error)) ([]*T, error) {
	if d.closed.Load() {
		return nil, d.fail(op, errClosed)
	}
	rows, err := d.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, d.fail(op, err)
	}
	defer rows.Close()
	out := []*T{}
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

type users struct{ d *DB }

const userColumns = `subject, username, password_hash, claims, disabled`

func (s users) get(ctx context.Context, where, arg string) (*store.User, error) {
	var u store.User
	err := s.d.row(ctx, "get user", `SELECT `+userColumns+` FROM users WHERE `+where+` = $1`, arg).
		Scan(&u.Subject, &u.Username, &u.PasswordHash, &u.Claims, &u.Disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (s users) Get(ctx context.Context, subject string) (*store.User, error) {
	return s.get(ctx, "subject", subject)
}

func (s users) GetByUsername(ctx context.Context, username string) (*store.User, error) {
	return s.get(ctx, "username", username)
}

// Put upserts by subject; the UNIQUE constraint on username turns a name
// taken by another subject into a unique violation, reported as
// ErrConflict, in the same statement.
func (s users) Put(ctx context.Context, u *store.User) error {
	_, err := s.d.exec(ctx, "put user", `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject) DO UPDATE SET username = excluded.username, password_hash = excluded.password_hash,
			claims = excluded.claims, disabled = excluded.disabled`,
		u.Subject, u.Username, u.PasswordHash, blob(u.Claims), u.Disabled)
	return err
}

type keys struct{ d *DB }

func (s keys) List(ctx context.Context) ([]*store.SigningKey, error) {
	return list(s.d, ctx, "list keys", `SELECT id, algorithm, private, active, created_at, retired_at, active_from
		FROM signing_keys ORDER BY created_at, id`, nil,
		func(r pgx.Rows) (*store.SigningKey, error) {
			var k store.SigningKey
			var created int64
			var retired, from *int64
			err := r.Scan(&k.ID, &k.Algorithm, &k.Private, &k.Active, &created, &retired, &from)
			k.CreatedAt, k.RetiredAt = fromMS(created), fromNullMS(retired)
			if f := fromNullMS(from); f != nil {
				k.ActiveFrom = *f
			}
			return &k, err
		})
}

func (s keys) Add(ctx context.Context, k *store.SigningKey) error {
	var from *time.Time
	if !k.ActiveFrom.IsZero() {
		from = &k.ActiveFrom
	}
	_, err := s.d.exec(ctx, "add key", `INSERT INTO signing_keys (id, algorithm, private, active, created_at, retired_at, active_from)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Algorithm, blob(k.Private), k.Active, ms(k.CreatedAt), nullMS(k.RetiredAt), nullMS(from))
	return err
}

func (s keys) Update(ctx context.Context, k *store.SigningKey) error {
	n, err := s.d.exec(ctx, "update key", `UPDATE signing_keys SET active = $1, retired_at = $2 WHERE id = $3`,
		k.Active, nullMS(k.RetiredAt), k.ID)
	return wantOne(n, err, store.ErrNotFound)
}

type consents struct{ d *DB }

func (s consents) Get(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	c := store.Consent{Subject: subject, ClientID: clientID}
	var granted int64
	err := s.d.row(ctx, "get consent", `SELECT scopes, granted_at FROM consents WHERE subject = $1 AND client_id = $2`,
		subject, clientID).Scan(&c.Scopes, &granted)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.GrantedAt = fromMS(granted)
	return &c, nil
}

func (s consents) Put(ctx context.Context, c *store.Consent) error {
	_, err := s.d.exec(ctx, "put consent", `INSERT INTO consents (subject, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.Subject, c.ClientID, c.Scopes, ms(c.GrantedAt))
	return err
}

func (s consents) Delete(ctx context.Context, subject, clientID string) error {
	_, err := s.d.exec(ctx, "delete consent", `DELETE FROM consents WHERE subject = $1 AND client_id = $2`, subject, clientID)
	return err
}
