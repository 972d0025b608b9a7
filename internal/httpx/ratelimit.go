package httpx

import (
	"hash/maphash"
	"net"
	"net/http"
	"sync"
	"time"
)

// RateLimiter counts requests per key in fixed windows. Made by
// NewRateLimiter it is local to one process: with N nodes behind a
// balancer each allows Limit per window, so divide the configured limit
// by N. Made by NewSharedRateLimiter it counts in a Counter shared by all
// nodes. It is safe for concurrent use; the zero value is not usable.
type RateLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time
	seed   maphash.Seed
	shards [64]rateShard
	// counter, when set, replaces the shards (counter.go).
	counter Counter
}

type rateShard struct {
	mu sync.Mutex
	// counts is guarded by mu.
	counts map[string]*rateCount
	// sweptAt is guarded by mu.
	sweptAt time.Time
}

type rateCount struct {
	start time.Time
	n     int
}

// NewRateLimiter allows limit requests per key in each window. A limit of
// zero or less disables limiting (Allow always succeeds). now may be nil.
func NewRateLimiter(limit int, window time.Duration, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	rl := &RateLimiter{limit: limit, window: window, now: now, seed: maphash.MakeSeed()}
	for i := range rl.shards {
		rl.shards[i].counts = map[string]*rateCount{}
	}
	return rl
}

// Allow counts one request for key and returns nil, or a 429 rate_limited
// error carrying Retry-After.
func (rl *RateLimiter) Allow(key string) error {
	if rl == nil || rl.limit <= 0 {
		return nil
	}
	if rl.counter != nil {
		return rl.allowShared(key)
	}
	now := rl.now()
	s := &rl.shards[maphash.String(rl.seed, key)%uint64(len(rl.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.sweptAt) > rl.window {
		for k, c := range s.counts {
			if now.Sub(c.start) >= rl.window {
				delete(s.counts, k)
			}
		}
		s.sweptAt = now
	}
	c, ok := s.counts[key]
	if !ok || now.Sub(c.start) >= rl.window {
		s.counts[key] = &rateCount{start: now, n: 1}
		return nil
	}
	c.n++
	if c.n <= rl.limit {
		return nil
	}
	return rateLimited(c.start.Add(rl.window).Sub(now))
}

// Exceeded reports whether key has already used up its window, without
// counting a request. Login uses it to refuse early while counting only
// failed attempts.
func (rl *RateLimiter) Exceeded(key string) error {
	if rl == nil || rl.limit <= 0 {
		return nil
	}
	if rl.counter != nil {
		return rl.exceededShared(key)
	}
	now := rl.now()
	s := &rl.shards[maphash.String(rl.seed, key)%uint64(len(rl.shards))]
	s.mu.Lock()
	c, ok := s.counts[key]
	exceeded := ok && now.Sub(c.start) < rl.window && c.n >= rl.limit
	var left time.Duration
	if exceeded {
		left = c.start.Add(rl.window).Sub(now)
	}
	s.mu.Unlock()
	if !exceeded {
		return nil
	}
	return rateLimited(left)
}

// ClientIP returns the peer address of r. Forwarding headers are not
// trusted: a rate limit keyed on them could be dodged by any caller.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
