package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// incrScript counts one hit in a fixed window: the first hit starts the
// window (PEXPIRE), later ones only count. ARGV: window in ms. It returns
// {count, ms left}. A key that lost its expiry (it never should) gets the
// window again rather than counting forever.
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`)

// countScript reads a window's count and time left without counting.
var countScript = goredis.NewScript(`
local n = redis.call('GET', KEYS[1])
if not n then return {0, 0} end
return {tonumber(n), redis.call('PTTL', KEYS[1])}
`)

// Incr counts one hit for key in a fixed window of the given length,
// shared by every node using the same Redis and prefix, and returns the
// window's count so far and the time left in it. It satisfies
// httpx.Counter; any failure wraps store.ErrUnavailable.
func (c *Client) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	return c.counter(ctx, "incr", incrScript, key, max(1, window.Milliseconds()))
}

// Count returns key's count in its current window and the time left,
// without counting a hit; a key with no open window counts 0.
func (c *Client) Count(ctx context.Context, key string) (int64, time.Duration, error) {
	return c.counter(ctx, "count", countScript, key)
}

func (c *Client) counter(ctx context.Context, op string, s *goredis.Script, key string, args ...any) (int64, time.Duration, error) {
	if c.closed.Load() {
		return 0, 0, c.fail(op, goredis.ErrClosed)
	}
	v, err := s.Run(ctx, c.rdb, []string{c.key("rl", key)}, args...).Int64Slice()
	if err != nil {
		return 0, 0, c.fail(op, err)
	}
	if len(v) != 2 {
		return 0, 0, c.fail(op, errUnexpectedReply)
	}
	return v[0], time.Duration(max(0, v[1])) * time.Millisecond, nil
}
