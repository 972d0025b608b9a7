// Package jose is the only importer of go-jose in Bulwark. It owns the
// algorithm allow-list, key parsing with strength checks, the server's
// signing keys, and parse-then-verify of every JWT the server receives.
//
// What it guarantees (FAPI 2.0 SP §5.4, RFC 8725):
//   - Only PS256, ES256 and EdDSA (Ed25519) are ever accepted or produced by
//     default; "none" and every HMAC algorithm are unrepresentable, so no
//     public key can ever be used as an HMAC secret.
//   - RSA keys shorter than 2048 bits and EC keys on curves smaller than
//     P-256 are rejected when a key set is parsed and again at verification.
//   - Public key sets never contain private key material.
//
// It does not do I/O: fetching a remote jwks_uri is the caller's job.
package jose
