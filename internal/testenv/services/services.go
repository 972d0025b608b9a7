package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os/exec"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store/postgres"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
)

// The servers the tests use, as .ci/run starts them.
const (
	// PostgresDSN is the test database, without a schema.
	PostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	// RedisURL is the shared test Redis.
	RedisURL = "redis://127.0.0.1:6379/0"
)

// Random returns n random bytes as lower-case hex, for schema names and
// key prefixes.
func Random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// PostgresSchema creates a schema named bulwark_test_<random>, drops it
// when the test ends, and returns a DSN whose search_path selects it.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresDSN
	name := "bulwark_test_" + Random(6)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := postgres.CreateSchema(ctx, base, name); err != nil {
		t.Fatalf("PostgreSQL at %s is needed for this test (start it; .ci/run does): %v", redact(base), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := postgres.DropSchema(ctx, base, name); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	return WithParam(base, "search_path", name)
}

// WithParam returns dsn (a URL) with the query parameter name set.
func WithParam(dsn, name, value string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisPrefix returns a key prefix bulwark_test:<random>: of its own and
// deletes every key under it when the test ends.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	prefix := "bulwark_test:" + Random(6) + ":"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redis.Open(ctx, RedisURL, redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("Redis at %s is needed for this test (start redis-server; .ci/run does): %v", redact(RedisURL), err)
	}
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.DeleteAll(ctx); err != nil {
			t.Errorf("delete test keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// OpenRedis opens a client on the test Redis under a fresh prefix, closed
// and cleaned up when the test ends.
func OpenRedis(t testing.TB) *redis.Client {
	t.Helper()
	prefix := RedisPrefix(t)
	c, err := redis.Open(context.Background(), RedisURL, redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("open Redis: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// OpenPostgres opens a store on a fresh schema, closed when the test ends.
func OpenPostgres(t testing.TB) *postgres.DB {
	t.Helper()
	d, err := postgres.Open(context.Background(), PostgresSchema(t), postgres.Options{})
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// redact drops the password from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Redis is a redis-server of a test's own, for fault tests that stop and
// restart it.
type Redis struct {
	// Addr is host:port; it stays the same across Stop and Start.
	Addr string
	cmd  *exec.Cmd
}

// StartRedis runs a redis-server without persistence on a free loopback
// port; it is killed when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{Addr: ln.Addr().String()}
	ln.Close()
	r.Start(t)
	t.Cleanup(func() {
		if r.cmd != nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// Start (re)starts the server on Addr and waits until it accepts
// connections.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	_, port, _ := net.SplitHostPort(r.Addr)
	r.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("redis-server is needed for this test: %v", err)
	}
	if !waitPort(r.Addr, true) {
		t.Fatalf("redis-server on %s did not start", r.Addr)
	}
}

// Stop kills the server and waits until its port is closed.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
	if !waitPort(r.Addr, false) {
		t.Fatalf("redis-server on %s did not stop", r.Addr)
	}
}

// waitPort waits up to 10 s for addr to accept (open) or refuse (!open)
// connections.
func waitPort(addr string, open bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		if (err == nil) == open {
			return true
		}
	}
	return false
}
