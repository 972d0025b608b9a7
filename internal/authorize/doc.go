// Package authorize implements the pushed authorization request endpoint
// (RFC 9126) and the authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1)
// for the authorization code flow.
//
// It validates requests per the client's profile (PKCE S256 always,
// response_type=code only, exact redirect URI match, PAR when required),
// keeps request_uri values single-use, issues authorization codes and
// builds the RFC 9207 response with iss on success and error. The login and
// consent pages are package login's: this package hands them an
// oauth.Interaction and takes back an Approval or a denial.
//
// It never redirects before client_id and redirect_uri are validated
// (RFC 9700 §4.11.2); errors before that point are shown as a page.
//
// It also runs the device authorization grant up to the user's decision
// (RFC 8628 §3.1–3.3, device.go): the device authorization endpoint, user
// codes (usercode.go: RFC 8628 §6.1 alphabet, normalisation of what users
// type), and the lookup and decision behind the /device pages, which
// package login renders. Polling is package token's.
package authorize
