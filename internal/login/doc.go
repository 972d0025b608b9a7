// Package login owns the end user's side of an authorization: the login
// and consent pages (server-rendered html/template, usable without
// JavaScript), the authorization server's browser session, CSRF protection
// of the form posts, and remembered consent per user, client and scope set.
//
// It receives an oauth.Interaction from package authorize (through the
// Flow interface, wired by package authserver) and answers with an
// oauth.Approval or a denial; it never builds a redirect to a client
// itself, so it cannot become an open redirector.
package login
