// Package bff is the Backend-for-Frontend role (`bulwark bff`): it runs
// the OpenID Connect login of a single-page app as a confidential FAPI 2.0
// client, keeps the tokens in a server-side session, and proxies the app's
// API calls with the access token (and a fresh DPoP proof) it adds itself,
// so no token ever reaches the browser.
//
// The OAuth mechanics are the public client package's: discovery with an
// exact issuer match, PAR when offered, PKCE S256, private_key_jwt or
// client_secret_basic, DPoP with nonce retries, the RFC 9207 iss check and
// ID and logout token validation. This package owns what is specific to a
// browser: the endpoints under /oauth2/ (oauth2-proxy's paths), cookies
// (__Host-, Secure, HttpOnly, SameSite), sessions in a store.WebSessions
// with idle and absolute expiry, refresh ahead of expiry exactly once per
// session across nodes (a compare-and-set lease in the session record),
// CSRF checks on the API, the local-only return path, and the reverse proxy.
//
// It does not render login pages (the provider does), hold any state in
// memory that another node would need, or forward browser cookies to
// upstreams.
package bff
