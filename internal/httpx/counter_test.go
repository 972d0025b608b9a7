package httpx_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestSharedRateLimiter runs two limiters, as two nodes would, on one
// real Redis counter: the limit holds across both.
func TestSharedRateLimiter(t *testing.T) {
	c := services.OpenRedis(t)
	nodeA := httpx.NewSharedRateLimiter(3, time.Minute, c)
	nodeB := httpx.NewSharedRateLimiter(3, time.Minute, c)
	for i, rl := range []*httpx.RateLimiter{nodeA, nodeB, nodeA} {
		if err := rl.Allow("token:198.51.100.7"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	if err := nodeB.Exceeded("token:198.51.100.7"); err == nil {
		t.Fatal("Exceeded at node B = nil after 3 hits at A and B, want rate_limited")
	}
	checkLimited(t, nodeB.Allow("token:198.51.100.7"), 60)
	if err := nodeB.Allow("token:198.51.100.8"); err != nil {
		t.Fatalf("another key was limited: %v", err)
	}
}

// TestSharedRateLimiterFailsClosed stops the counter's Redis: limited
// requests are refused with 503 temporarily_unavailable, not let through,
// and pass again once Redis is back.
func TestSharedRateLimiterFailsClosed(t *testing.T) {
	srv := services.StartRedis(t)
	c, err := redis.Open(t.Context(), srv.URL(), redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rl := httpx.NewSharedRateLimiter(100, time.Minute, c)
	if err := rl.Allow("k"); err != nil {
		t.Fatalf("Allow while up: %v", err)
	}
	srv.Stop(t)
	for name, err := range map[string]error{"Allow": rl.Allow("k"), "Exceeded": rl.Exceeded("k")} {
		oe, ok := oauth.As(err)
		if !ok || oe.Code != oauth.ErrTemporarilyUnavailable || oe.HTTPStatus() != http.StatusServiceUnavailable {
			t.Fatalf("%s with Redis down = %v, want 503 temporarily_unavailable", name, err)
		}
	}
	srv.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for rl.Allow("k") != nil {
		if ctx.Err() != nil {
			t.Fatal("limiter did not recover after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
