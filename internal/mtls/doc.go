// Package mtls implements the certificate side of RFC 8705 (OAuth 2.0
// Mutual-TLS Client Authentication and Certificate-Bound Access Tokens):
// the x5t#S256 certificate thumbprint (§3.1), the tls_client_auth subject
// rules of §2.1.2 (subject DN per RFC 4514, or one SAN entry), chain
// verification against the configured client CAs (§2.1), matching a
// self-signed certificate against a client's registered JWKS (§2.2), and
// parsing a certificate that a TLS-terminating proxy forwards in a header.
//
// It takes certificates and strings, not requests: where a certificate may
// come from (the TLS connection, or a header accepted only from trusted
// proxies) is decided by the HTTP edge (package httpx).
package mtls
