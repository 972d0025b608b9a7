// Package authserver assembles the authorization server role: it loads or
// creates signing keys, writes the statically configured clients and users
// to the store, mounts each domain package's handlers on one ServeMux, and
// applies the middleware (security headers, request IDs, metrics, rate
// limits) in a fixed order.
//
// It holds no protocol logic of its own; a request's path is
// authserver → domain handler → domain service → store.
package authserver
