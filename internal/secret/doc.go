// Package secret hashes and verifies person-chosen secrets (client secrets,
// user passwords) with argon2id, and keeps the token endpoint fast with a
// verification cache that never weakens what is stored.
//
// The cache remembers successful verifications under an HMAC, keyed with a
// per-process random key, of (stored hash, presented secret). A hit proves
// the same secret verified against the same stored hash recently; a miss
// costs one argon2id run. Failures are never cached, and changing the
// stored hash invalidates every entry for it.
package secret
