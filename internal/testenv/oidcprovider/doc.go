// Package oidcprovider runs panva's oidc-provider (npm, pinned in
// interop/package.json) as a real third-party OpenID provider for tests:
// HTTPS on a loopback port with a certificate from a test CA, clients and
// accounts from the test, DPoP (optionally with required nonces), PAR,
// refresh tokens, introspection, revocation, RP-initiated and back-channel
// logout. A machine without Node or the npm packages fails the test; it is
// never skipped.
package oidcprovider
