-- Bulwark schema, version 1.
--
-- Times are INTEGER Unix milliseconds. Secrets (codes, request URIs,
-- refresh tokens, session IDs) appear only as base64url SHA-256 hashes.
-- Tables are STRICT so a type slip in Go surfaces as an error instead of a
-- silently coerced value. Small fixed-shape tables keyed by text are
-- WITHOUT ROWID: one B-tree instead of two per lookup.

CREATE TABLE clients (
    id          TEXT    NOT NULL PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    metadata    BLOB    NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    subject       TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    claims        BLOB    NOT NULL,
    disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1))
) STRICT;

CREATE TABLE signing_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    algorithm  TEXT    NOT NULL,
    private    BLOB    NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;

CREATE INDEX signing_keys_created_at ON signing_keys (created_at, id);

CREATE TABLE requests (
    hash       TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    params     BLOB    NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX requests_expires_at ON requests (expires_at);

CREATE TABLE codes (
    hash       TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    params     BLOB    NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX codes_expires_at ON codes (expires_at);

CREATE TABLE grants (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    params     BLOB    NOT NULL
) STRICT;

CREATE INDEX grants_expires_at ON grants (expires_at);

CREATE TABLE refresh_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    params     BLOB    NOT NULL
) STRICT;

CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE revocations (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX revocations_expires_at ON revocations (expires_at);

CREATE TABLE consents (
    subject    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (subject, client_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    hash       TEXT    NOT NULL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- No index on exp: Replay.Use runs on every token request, and a second
-- B-tree doubled its cost (measured). The table holds only keys within
-- their short lifetimes, so Purge's scan of it is cheap.
CREATE TABLE replay (
    key TEXT    NOT NULL PRIMARY KEY,
    exp INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
