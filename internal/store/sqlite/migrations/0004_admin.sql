-- Version 4: the admin API's listings and the audit log.
--
-- Grants are revoked per client (deleting a client) and per client and
-- user (revoking a consent); sessions are listed per user; consents are
-- listed per client as well as per user (the primary key covers that).
-- A dynamically registered client keeps the hash of its RFC 7592
-- registration access token; '' means it has none.

ALTER TABLE clients ADD COLUMN registration_hash TEXT NOT NULL DEFAULT '';

CREATE INDEX grants_client_subject ON grants (client_id, subject);

CREATE INDEX sessions_subject ON sessions (subject, hash);

CREATE INDEX consents_client ON consents (client_id, subject);

-- Append-only; id is time-ordered (store.NewAuditID), so listing newest
-- first is a backwards scan of the primary key.
CREATE TABLE audit (
    id      TEXT    NOT NULL PRIMARY KEY,
    time    INTEGER NOT NULL,
    action  TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    details BLOB    NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX audit_action ON audit (action, id);
