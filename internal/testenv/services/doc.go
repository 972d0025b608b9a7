// Package services hands tests their own slice of the real PostgreSQL and
// Redis servers: a fresh schema per call, a fresh key prefix per call,
// both removed when the test ends. It is imported only from _test.go
// files.
//
// The servers are the ones .ci/run starts: PostgreSQL on 127.0.0.1:5432
// (trust authentication, user postgres, database "test") and Redis on
// 127.0.0.1:6379. Fault tests start a redis-server of their own
// (StartRedis) so they can stop it without disturbing other packages.
// An unreachable server fails the test with a message saying what to
// start; it never skips, so a green run means the tests ran.
package services
