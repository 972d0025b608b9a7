package redis

import (
	"context"
	"time"
)

// PTTL is Redis's PTTL of the key <prefix><key>, for tests that check the
// expiries the package sets (-2ns: no such key).
func (c *Client) PTTL(ctx context.Context, key string) (time.Duration, error) {
	return c.rdb.PTTL(ctx, c.prefix+key).Result()
}

// SetPX writes <prefix><key> with a lease, as a holder that then vanished
// would have left it.
func (c *Client) SetPX(ctx context.Context, key, value string, ttl time.Duration) error {
	return c.rdb.Set(ctx, c.prefix+key, value, ttl).Err()
}
