// Package testclock is a settable clock for tests. It is imported only from
// _test.go files (internal/archtest checks this).
package testclock
