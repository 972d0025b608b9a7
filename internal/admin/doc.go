// Package admin is the administration surface of the authorization
// server: the admin API (clients, users, consents, signing keys, browser
// sessions and the audit log, as JSON under /admin/), Dynamic Client
// Registration (RFC 7591) with its management protocol (RFC 7592), and
// the account operations behind the end-user self-service page, which
// package login renders.
//
// Every admin call is authenticated (Authenticate: a configured admin
// token compared by its SHA-256 in constant time, or an access token of
// this server carrying the admin scope, checked by the server's own token
// code through the TokenChecker interface) and recorded in the audit log.
// Clients are validated by clients.Check, the same function static
// configuration goes through; clients from configuration are read-only.
//
// The package does not verify JWTs, rotate keys or render HTML itself: it
// is given those as small interfaces by package authserver.
package admin
