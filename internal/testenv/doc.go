// Package testenv starts the real authorization server for tests: on
// httptest over real HTTP, on a fresh SQLite database (or the memory
// store), with test clients whose private keys the test holds. It is
// imported only from _test.go files; the architecture test enforces that.
package testenv
