package resource

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrReplayed is what a ReplayCache returns (or wraps) when a key was
// already used. Caches with their own sentinel are recognised through
// Verifier.IsReplayed.
var ErrReplayed = errors.New("resource: already used")

// ReplayCache records single-use keys: the DPoP proof identifiers this
// resource server has seen (RFC 9449 §11.1). Use must record key until exp
// and fail if key is already recorded and not expired, atomically: two
// concurrent calls with one key must not both succeed (no get-then-set).
// An error other than "already used" means the cache cannot answer, and
// the request is refused with 503. Bulwark's store.Replay satisfies it.
type ReplayCache interface {
	Use(ctx context.Context, key string, exp time.Time) error
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// DefaultMemoryReplayEntries bounds a MemoryReplayCache whose Max is 0.
const DefaultMemoryReplayEntries = 100_000

// MemoryReplayCache is an in-process ReplayCache, for a resource server
// that runs as a single process (tests, development, one gateway node).
// Behind a load balancer use a shared cache instead: a proof replayed to
// another node would not be seen. When full it refuses new keys with an
// error (so the request fails closed with 503) rather than forget live
// ones. Create it with NewMemoryReplayCache; it is safe for concurrent
// use.
type MemoryReplayCache struct {
	// Now is the clock. Nil means time.Now. Set it before first use.
	Now func() time.Time
	// Max bounds the live entries; 0 means DefaultMemoryReplayEntries.
	// Set it before first use.
	Max int

	mu   sync.Mutex
	keys map[string]time.Time // guarded by mu
}

// NewMemoryReplayCache returns an empty MemoryReplayCache.
func NewMemoryReplayCache() *MemoryReplayCache { return &MemoryReplayCache{} }

// errReplayFull reports a MemoryReplayCache that holds Max live entries.
var errReplayFull = errors.New("resource: replay cache full")

// Use implements ReplayCache.
func (c *MemoryReplayCache) Use(ctx context.Context, key string, exp time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	max := c.Max
	if max <= 0 {
		max = DefaultMemoryReplayEntries
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[string]time.Time{}
	}
	if until, ok := c.keys[key]; ok && now.Before(until) {
		return ErrReplayed
	}
	if len(c.keys) >= max {
		c.sweepLocked(now)
		if len(c.keys) >= max {
			return errReplayFull
		}
	}
	c.keys[key] = exp
	return nil
}

// sweepLocked drops expired entries. c.mu must be held.
func (c *MemoryReplayCache) sweepLocked(now time.Time) {
	for k, until := range c.keys {
		if !now.Before(until) {
			delete(c.keys, k)
		}
	}
}
