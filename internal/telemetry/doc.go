// Package telemetry sets up structured logging and Prometheus metrics.
//
// Logs are slog JSON. A redacting handler replaces the value of any
// attribute whose key names a credential (password, secret, token, code,
// assertion, authorization, cookie, dpop) so that a careless log call cannot
// leak one. Metrics live in one registry passed explicitly to the parts
// that record them; nothing here is a package global.
package telemetry
