-- Signing keys can be published before they sign (bulwark keys rotate):
-- active_from is when a key starts signing, NULL meaning from created_at.

ALTER TABLE signing_keys ADD COLUMN active_from INTEGER;
