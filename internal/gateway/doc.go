// Package gateway is the gateway role: a reverse proxy that puts the
// FAPI 2.0 resource-server checks in front of any HTTP API. Routes from
// the configuration map a path prefix to an upstream; every request passes
// a fixed pipeline (route.go) before it is proxied:
//
//  1. Route: the longest path_prefix that matches the request's clean
//     path, then its methods (404, 405; 400 for a path with dot segments
//     or empty segments, which could mean another route to the upstream).
//  2. Token: resource.Verifier.Check — the access token from the
//     Authorization header only, its signature and claims (RFC 9068) or
//     introspection (RFC 7662), and the sender constraint its cnf names:
//     a DPoP proof (RFC 9449 §7) against the configured base URL plus the
//     path, never Host or X-Forwarded-*, single-use through the replay
//     store; or the client certificate (RFC 8705 §3), from the TLS
//     connection or, from a trusted proxy only, its header.
//  3. Authorization: the route's audiences and scopes (403
//     insufficient_scope, RFC 6750 §3.1).
//  4. Policy: an optional Rego policy evaluated in-process (policy.go);
//     its allow rule must be true (403 access_denied).
//  5. Proxy: httputil.ReverseProxy (proxy.go). Hop-by-hop headers,
//     Authorization and DPoP (unless forward_authorization), inbound
//     X-Forwarded-*, the forwarded-certificate header and every inbound
//     copy of an identity header (any X-Bulwark-… header and every name a
//     route forwards) are removed; then the verified identity is set.
//     Bodies stream in both directions within the route's timeout.
//
// It also serves RFC 9728 protected resource metadata (metadata.go) for
// the gateway's resource and for every route that names its own, and
// /healthz, /readyz (replay store and the issuer's JWKS) and /metrics, on
// the main listener or a separate admin one.
//
// What it does not do: it does not issue tokens, terminate CORS
// preflights (they carry no token and are refused), cache responses,
// balance between several upstreams of one route, or verify HTTP message
// signatures. Failures are rendered by resource.WriteError, so challenges
// match what resource.Verifier.Handler would send.
package gateway
