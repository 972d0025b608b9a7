// Package storetest is the one conformance suite for implementations of
// the store contract. Every back end runs [RunTests] from its own test
// file, so the memory store used in unit tests and the SQLite store used
// in production are held to exactly the same rules: expiry, single use
// under concurrency, conflict and not-found semantics.
//
// The suite is a regular (non-test) package so that back ends in other
// packages can import it; it is only ever imported from _test.go files.
package storetest
