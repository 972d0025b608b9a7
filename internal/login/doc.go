// Package login owns the end user's side of an authorization: the login
// and consent pages (server-rendered html/template, usable without
// JavaScript), the authorization server's browser session, CSRF protection
// of the form posts, and remembered consent per user, client and scope set.
//
// It receives an oauth.Interaction from package authorize (through the
// Flow interface, wired by package authserver) and answers with an
// oauth.Approval or a denial; it never builds a redirect to a client
// itself, so it cannot become an open redirector.
//
// The device flow's verification page (RFC 8628 §3.3, device.go) reuses
// the same session, login form and consent page: the user enters the code
// from the device, signs in, checks the code and the client on the consent
// page and decides, through the DeviceFlow interface (also implemented by
// package authorize). Failed code entries are rate-limited per IP
// (RFC 8628 §5.1) and consent is never remembered for it (§5.4).
package login
