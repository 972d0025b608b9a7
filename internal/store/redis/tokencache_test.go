package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/client/cachetest"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestTokenCache runs the client library's cache conformance suite on a
// real Redis: each handle is a connection pool of its own on the test's
// prefix, as another process would open.
func TestTokenCache(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) func() client.Cache {
		prefix := services.RedisPrefix(t)
		return func() client.Cache {
			c, err := redis.Open(context.Background(), services.RedisURL, redis.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c.TokenCache()
		}
	})
}

// TestTokenCacheBounds checks the TTLs Redis was given: MaxTTL bounds an
// entry of unknown or later expiry, an earlier expiry wins, and a lock's
// lease is set and goes with the unlock.
func TestTokenCacheBounds(t *testing.T) {
	c := services.OpenRedis(t)
	ctx := t.Context()
	tc := c.TokenCache()
	tc.MaxTTL = time.Hour
	ttl := func(key string) time.Duration {
		t.Helper()
		d, err := c.PTTL(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := tc.Store(ctx, "p", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if d := ttl("tok:p"); d <= 59*time.Minute || d > time.Hour {
		t.Errorf("Store: TTL %v, want MaxTTL (1h)", d)
	}
	if err := tc.StoreExpiring(ctx, "p", []byte("v"), time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := ttl("tok:p"); d > time.Hour {
		t.Errorf("a later expiry: TTL %v, want MaxTTL", d)
	}
	if err := tc.StoreExpiring(ctx, "p", []byte("v"), time.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d := ttl("tok:p"); d <= 9*time.Minute || d > 10*time.Minute {
		t.Errorf("an earlier expiry: TTL %v, want about 10m", d)
	}
	unlock, err := tc.Lock(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl("toklock:p"); d <= 0 || d > redis.DefaultTokenLockTTL {
		t.Errorf("lock lease %v, want (0, %v]", d, redis.DefaultTokenLockTTL)
	}
	unlock()
	unlock() // a second call is harmless
	if d := ttl("toklock:p"); d != -2*time.Nanosecond {
		t.Errorf("lock key after unlock: PTTL %v, want gone", d)
	}
	for _, key := range []string{"", string(make([]byte, 257))} {
		if err := tc.Store(ctx, key, nil); err == nil {
			t.Errorf("Store accepted a key of %d bytes", len(key))
		}
	}
}

// TestTokenCacheLease: a lock whose holder vanished without unlocking (a
// crashed process: its lease is not renewed) is free once the lease ends;
// a live holder's lease is renewed past its first expiry.
func TestTokenCacheLease(t *testing.T) {
	c := services.OpenRedis(t)
	ctx := t.Context()
	tc := c.TokenCache()
	tc.LockTTL = 300 * time.Millisecond
	unlock, err := tc.Lock(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	other := c.TokenCache()
	short, cancel := context.WithTimeout(ctx, 2*tc.LockTTL)
	defer cancel()
	if _, err := other.Lock(short, "p"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while the holder renews = %v, want to wait", err)
	}
	unlock()
	// A holder that never unlocks and stops renewing: its key as the
	// lease left it.
	if err := c.SetPX(ctx, "toklock:q", "dead-owner", tc.LockTTL); err != nil {
		t.Fatal(err)
	}
	u, err := other.Lock(ctx, "q")
	if err != nil {
		t.Fatalf("Lock after a dead holder's lease = %v", err)
	}
	u()
}

// TestTokenCacheUnavailable: with Redis gone every operation fails with
// ErrUnavailable, never a miss that would start a new login.
func TestTokenCacheUnavailable(t *testing.T) {
	srv := services.StartRedis(t)
	c, err := redis.Open(t.Context(), srv.URL(), redis.Options{Prefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.TokenCache()
	ctx := t.Context()
	srv.Stop(t)
	_, loadErr := tc.Load(ctx, "p")
	_, lockErr := tc.Lock(ctx, "p")
	for op, err := range map[string]error{"Load": loadErr, "Store": tc.Store(ctx, "p", []byte("v")), "Delete": tc.Delete(ctx, "p"), "Lock": lockErr} {
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, client.ErrCacheMiss) {
			t.Errorf("%s with Redis down = %v, want ErrUnavailable", op, err)
		}
	}
}
