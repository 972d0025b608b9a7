// Package testca issues real X.509 certificates for tests: a CA, client
// certificates it signs (with any subject and SANs), self-signed client
// certificates and TLS server certificates. It is imported only from
// _test.go files (internal/archtest checks this).
package testca
