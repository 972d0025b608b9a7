-- Bulwark PostgreSQL schema, version 1.
--
-- Times are BIGINT Unix milliseconds, as in the SQLite schema, so expiry
-- arithmetic is the same integer comparison in both and values round-trip
-- exactly at the contract's millisecond precision. Secrets (codes, request
-- URIs, refresh tokens, session IDs) appear only as base64url SHA-256
-- hashes. Key columns use COLLATE "C": byte order, as the contract's
-- List orders promise, and the cheapest comparison for hash keys.

CREATE TABLE clients (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret_hash TEXT   NOT NULL,
    metadata    BYTEA  NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    subject       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    claims        BYTEA   NOT NULL,
    disabled      BOOLEAN NOT NULL
);

CREATE TABLE signing_keys (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm  TEXT    NOT NULL,
    private    BYTEA   NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL,
    retired_at BIGINT,
    -- When the key starts signing; NULL means from created_at.
    active_from BIGINT
);

CREATE INDEX signing_keys_created_at ON signing_keys (created_at, id);

CREATE TABLE requests (
    hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL,
    params     BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE INDEX requests_expires_at ON requests (expires_at);

CREATE TABLE codes (
    hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL,
    grant_id   TEXT   NOT NULL,
    params     BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE INDEX codes_expires_at ON codes (expires_at);

CREATE TABLE grants (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    auth_time  BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked    BOOLEAN NOT NULL,
    params     BYTEA   NOT NULL
);

CREATE INDEX grants_expires_at ON grants (expires_at);

CREATE TABLE refresh_tokens (
    hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    grant_id   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    params     BYTEA  NOT NULL
);

CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE revocations (
    jti        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE INDEX revocations_expires_at ON revocations (expires_at);

CREATE TABLE consents (
    subject    TEXT COLLATE "C" NOT NULL,
    client_id  TEXT COLLATE "C" NOT NULL,
    scopes     TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);

CREATE TABLE sessions (
    hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    subject    TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE replay (
    key TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    exp BIGINT NOT NULL
);

CREATE INDEX replay_exp ON replay (exp);

-- RFC 8628 device authorizations, keyed by the hash of the device_code and
-- found from the browser by the hash of the normalised user_code, unique
-- among all rows (Put deletes an expired holder first). status moves
-- pending → approved → consumed or pending → denied; polled_at and
-- auth_time are NULL until set; interval_ms grows with every slow_down.
CREATE TABLE device_codes (
    hash           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_code_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    client_id      TEXT   NOT NULL,
    scopes         TEXT   NOT NULL,
    params         BYTEA  NOT NULL,
    status         TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    subject        TEXT   NOT NULL,
    auth_time      BIGINT,
    interval_ms    BIGINT NOT NULL,
    polled_at      BIGINT,
    expires_at     BIGINT NOT NULL
);

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
