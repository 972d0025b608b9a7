-- Version 2: RFC 8628 device authorizations.
--
-- A row is keyed by the hash of its device_code and found from the
-- browser by the hash of its normalised user_code, which is unique among
-- all rows: Put deletes an expired row holding the same user code before
-- it inserts. status moves pending → approved → consumed or
-- pending → denied. polled_at and auth_time are NULL until set;
-- interval_ms grows with every slow_down.

CREATE TABLE device_codes (
    hash           TEXT    NOT NULL PRIMARY KEY,
    user_code_hash TEXT    NOT NULL UNIQUE,
    client_id      TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    params         BLOB    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    subject        TEXT    NOT NULL,
    auth_time      INTEGER,
    interval_ms    INTEGER NOT NULL,
    polled_at      INTEGER,
    expires_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
