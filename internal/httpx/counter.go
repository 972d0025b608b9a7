package httpx

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Counter is a fixed-window hit counter shared by every node of a
// deployment (package store/redis implements it), so a rate limit holds
// for the deployment as a whole instead of once per node.
type Counter interface {
	// Incr counts one hit for key in its current window, opening a window
	// of the given length if none is open, and returns the window's count
	// so far (this hit included) and the time left in it.
	Incr(ctx context.Context, key string, window time.Duration) (n int64, left time.Duration, err error)
	// Count returns key's count in its current window and the time left,
	// without counting a hit; no open window counts 0.
	Count(ctx context.Context, key string) (n int64, left time.Duration, err error)
}

// CounterTimeout bounds one call to a shared Counter. Allow has no
// request context, so the limiter sets its own deadline: a counter that
// does not answer in time refuses the request like one that is down.
const CounterTimeout = time.Second

// NewSharedRateLimiter allows limit requests per key in each window,
// counted in c across every node that shares it. A limit of zero or less
// disables limiting, as for NewRateLimiter.
//
// It fails closed: when c cannot answer, Allow and Exceeded return a 503
// temporarily_unavailable error, so an outage of the counter store never
// lifts the limits (a limit exists to protect something; skipping it
// while the cache is down would remove the protection exactly when the
// system is degraded).
func NewSharedRateLimiter(limit int, window time.Duration, c Counter) *RateLimiter {
	rl := NewRateLimiter(limit, window, nil)
	rl.counter = c
	return rl
}

// allowShared is Allow on the shared counter.
func (rl *RateLimiter) allowShared(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), CounterTimeout)
	defer cancel()
	n, left, err := rl.counter.Incr(ctx, key, rl.window)
	if err != nil {
		return counterUnavailable(err)
	}
	if n <= int64(rl.limit) {
		return nil
	}
	return rateLimited(left)
}

// exceededShared is Exceeded on the shared counter.
func (rl *RateLimiter) exceededShared(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), CounterTimeout)
	defer cancel()
	n, left, err := rl.counter.Count(ctx, key)
	if err != nil {
		return counterUnavailable(err)
	}
	if n < int64(rl.limit) {
		return nil
	}
	return rateLimited(left)
}

// rateLimited is the 429 answer with Retry-After rounded up to a whole
// second, at least 1.
func rateLimited(left time.Duration) error {
	retry := max(1, int(math.Ceil(left.Seconds())))
	return &oauth.Error{
		Code:        oauth.ErrRateLimited,
		Description: "too many requests",
		Header:      map[string]string{"Retry-After": strconv.Itoa(retry)},
	}
}

// counterUnavailable is the 503 answer when the shared counter is down.
func counterUnavailable(cause error) error {
	return &oauth.Error{
		Code:        oauth.ErrTemporarilyUnavailable,
		Description: "rate limit state is unavailable; try again later",
		Header:      map[string]string{"Retry-After": "1"},
		Cause:       cause,
	}
}
