// Package clients owns registered OAuth clients: their metadata, the
// per-client profile that decides which protocol rules apply (standard or
// fapi2), and client authentication at the token, PAR, introspection and
// revocation endpoints (RFC 6749 §2.3, RFC 7523, OIDC Core §9).
//
// Profiles are policy as data: every rule that differs between a public
// agent client and a regulated FAPI 2.0 client is a field of Profile, read
// by the endpoints, so no handler branches on a profile's name.
package clients
