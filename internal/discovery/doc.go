// Package discovery serves the authorization server metadata (RFC 8414
// §3, OpenID Connect Discovery 1.0 §4) and the server's JWKS. The metadata
// is built once from the server's configuration and never advertises
// anything the server does not enforce.
package discovery
