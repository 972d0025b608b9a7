// Package token implements the token endpoint (RFC 6749 §3.2) as a
// dispatcher with fixed phases and one small Grant type per grant_type,
// plus what is built on the same tokens: JWT access tokens (RFC 9068), ID
// tokens (OIDC Core §2), refresh token rotation, the device grant's
// polling (RFC 8628 §3.4–3.5), introspection (RFC 7662),
// revocation (RFC 7009) and the userinfo endpoint (OIDC Core §5.3).
//
// The phases of Exchange never change order: (1) grant type lookup,
// (2) client authentication, (3) grant permission, (4) the grant's own
// checks, (5) minting. A new grant type is one new file and one map entry.
package token
