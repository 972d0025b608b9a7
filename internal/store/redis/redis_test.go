package redis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/store/storetest"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// cached are the aggregates package redis implements.
var cached = []string{"Replay", "Requests", "Codes", "Sessions"}

// TestStore runs the conformance suite on a real Redis, limited to the
// aggregates the package implements, each case under its own prefix.
func TestStore(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) *store.Store {
		return services.OpenRedis(t).Store()
	}, storetest.Only(cached...))
}

// TestOverlay runs the whole suite on the composition a deployment uses:
// the Redis aggregates laid over a durable store.
func TestOverlay(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) *store.Store {
		return store.Overlay(memory.New(), "memory", services.OpenRedis(t).Store(), "redis")
	})
}

// TestUnreachable points a client at a port nothing listens on, after
// opening it while Redis was up: every operation fails closed.
func TestUnreachable(t *testing.T) {
	srv := services.StartRedis(t)
	c, err := redis.Open(t.Context(), srv.URL(), redis.Options{Prefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Store()
	ctx := t.Context()
	if err := s.Replay.Use(ctx, "up", time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Use while up: %v", err)
	}
	srv.Stop(t)
	exp := time.Now().Add(time.Minute)
	checks := map[string]error{
		"Ping":         s.Ping(ctx),
		"Replay.Use":   s.Replay.Use(ctx, "down", exp),
		"Codes.Put":    s.Codes.Put(ctx, store.Hash("c"), &store.AuthorizationCode{ExpiresAt: exp}),
		"Requests.Put": s.Requests.Put(ctx, store.Hash("r"), &store.AuthorizationRequest{ExpiresAt: exp}),
		"Sessions.Put": s.Sessions.Put(ctx, store.Hash("s"), &store.Session{ExpiresAt: exp}),
	}
	_, checks["Codes.Consume"] = s.Codes.Consume(ctx, store.Hash("c"))
	_, checks["Requests.Consume"] = s.Requests.Consume(ctx, store.Hash("r"))
	_, checks["Requests.Get"] = s.Requests.Get(ctx, store.Hash("r"))
	_, checks["Sessions.Get"] = s.Sessions.Get(ctx, store.Hash("s"))
	_, _, checks["Incr"] = c.Incr(ctx, "k", time.Minute)
	for op, err := range checks {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis down: got %v, want ErrUnavailable", op, err)
		}
	}
	if _, err := redis.Open(t.Context(), "redis://127.0.0.1:1/0", redis.Options{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open on a closed port: got %v, want ErrUnavailable", err)
	}
}

func TestCounter(t *testing.T) {
	c := services.OpenRedis(t)
	ctx := t.Context()
	const window = 300 * time.Millisecond
	for want := int64(1); want <= 3; want++ {
		n, left, err := c.Incr(ctx, "ip:1", window)
		if err != nil || n != want || left <= 0 || left > window {
			t.Fatalf("Incr #%d = %d, %v, %v; want %d, (0, %v]", want, n, left, err, want, window)
		}
	}
	if n, _, err := c.Count(ctx, "ip:1"); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3", n, err)
	}
	if n, _, err := c.Count(ctx, "ip:2"); err != nil || n != 0 {
		t.Fatalf("Count of another key = %d, %v; want 0", n, err)
	}
	time.Sleep(window + 50*time.Millisecond)
	if n, _, err := c.Incr(ctx, "ip:1", window); err != nil || n != 1 {
		t.Fatalf("Incr in a new window = %d, %v; want 1", n, err)
	}
}

func TestOpenURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"fail/scheme", "http://127.0.0.1:6379"},
		{"fail/not_a_url", "::"},
		{"fail/bad_db", "redis://127.0.0.1:6379/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := redis.Open(t.Context(), tt.url, redis.Options{}); err == nil {
				c.Close()
				t.Fatal("Open accepted the URL")
			}
		})
	}
}

// TestWebSessions runs the BFF session conformance suite on a real Redis.
func TestWebSessions(t *testing.T) {
	storetest.RunWebSessions(t, func(t *testing.T) storetest.WebStores {
		c := services.OpenRedis(t)
		return storetest.WebStores{Sessions: c.WebSessions(), Logins: c.PendingLogins()}
	})
}
