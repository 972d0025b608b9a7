// Package e2e_test runs the real Bulwark server over HTTP: whole flows
// through the login and consent pages, every negative case of the FAPI 2.0
// checklist that the authorization server owns, concurrency tests of the
// single-use guarantees, and the third-party interop tests.
package e2e_test
