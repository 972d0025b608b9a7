package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/bulwarkauth/bulwark/client"
)

// Defaults of TokenCache.
const (
	// DefaultTokenMaxTTL bounds every cached token entry, so refresh
	// tokens of unknown lifetime do not stay in a shared Redis forever.
	// It matches the authorization server's default refresh_token_ttl.
	DefaultTokenMaxTTL = 30 * 24 * time.Hour
	// DefaultTokenLockTTL is the lease of a refresh lock. The holder
	// renews it while it holds the lock; a holder that dies releases it
	// when the lease runs out, as the kernel releases a dead process's
	// flock.
	DefaultTokenLockTTL = 10 * time.Second
)

// maxTokenCacheKey bounds the caller's keys; profile keys are far shorter.
const maxTokenCacheKey = 256

// TokenCache keeps the client library's token cache entries in Redis, for
// programs that run as several processes or on several machines and should
// share one token, such as replicas of a service or CLI runs in CI jobs.
// It implements client.Cache, client.Locker and client.ExpiringCache.
//
// An entry is one string key, <prefix>tok:<key>, replaced with SET, so a
// reader sees the old value or the new one. Each entry expires with its
// refresh token (or its access token when it has no refresh token), and
// never later than MaxTTL. Lock takes <prefix>toklock:<key> with SET NX PX
// and a random owner token, renews the lease while it is held, and
// releases it with a compare-and-delete script, so only the holder can
// release it: concurrent refreshers in any number of processes refresh
// once, the guarantee the file cache gives with flock(2). Every operation
// touches one key, so it runs on Redis Cluster too.
//
// The values are secrets (they hold refresh tokens): they are stored as
// given and never logged or put into errors. Anyone who can read the Redis
// prefix can use the tokens, together with the DPoP key they are bound to.
// Errors talking to Redis wrap store.ErrUnavailable; a miss wraps
// client.ErrCacheMiss. A TokenCache is safe for concurrent use.
type TokenCache struct {
	c *Client
	// MaxTTL bounds every entry; zero means DefaultTokenMaxTTL.
	MaxTTL time.Duration
	// LockTTL is the lease of a refresh lock; zero means
	// DefaultTokenLockTTL.
	LockTTL time.Duration
}

var (
	_ client.Cache         = (*TokenCache)(nil)
	_ client.Locker        = (*TokenCache)(nil)
	_ client.ExpiringCache = (*TokenCache)(nil)
)

// TokenCache returns a token cache under c's prefix.
func (c *Client) TokenCache() *TokenCache { return &TokenCache{c: c} }

func (tc *TokenCache) key(kind, key string) (string, error) {
	if key == "" || len(key) > maxTokenCacheKey {
		return "", fmt.Errorf("redis: token cache key must be 1 to %d bytes", maxTokenCacheKey)
	}
	if tc.c.closed.Load() {
		return "", tc.c.fail("token cache", goredis.ErrClosed)
	}
	return tc.c.key(kind, key), nil
}

// Load implements client.Cache.
func (tc *TokenCache) Load(ctx context.Context, key string) ([]byte, error) {
	k, err := tc.key("tok", key)
	if err != nil {
		return nil, err
	}
	b, err := tc.c.rdb.Get(ctx, k).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: %w", client.ErrCacheMiss)
	}
	if err != nil {
		return nil, tc.c.fail("token cache load", err)
	}
	return b, nil
}

// Store implements client.Cache: the entry expires after MaxTTL.
func (tc *TokenCache) Store(ctx context.Context, key string, value []byte) error {
	return tc.StoreExpiring(ctx, key, value, time.Time{})
}

// StoreExpiring implements client.ExpiringCache: the entry expires at
// expires or after MaxTTL, whichever is first; an entry already useless
// is deleted instead.
func (tc *TokenCache) StoreExpiring(ctx context.Context, key string, value []byte, expires time.Time) error {
	k, err := tc.key("tok", key)
	if err != nil {
		return err
	}
	ttl := tc.MaxTTL
	if ttl <= 0 {
		ttl = DefaultTokenMaxTTL
	}
	if !expires.IsZero() {
		left := time.Until(expires)
		if left < time.Millisecond {
			return tc.c.fail("token cache store", tc.c.rdb.Del(ctx, k).Err())
		}
		ttl = min(ttl, left)
	}
	return tc.c.fail("token cache store", tc.c.rdb.Set(ctx, k, value, ttl).Err())
}

// Delete implements client.Cache.
func (tc *TokenCache) Delete(ctx context.Context, key string) error {
	k, err := tc.key("tok", key)
	if err != nil {
		return err
	}
	return tc.c.fail("token cache delete", tc.c.rdb.Del(ctx, k).Err())
}

// renewScript extends the lease of KEYS[1] to ARGV[2] ms if ARGV[1] still
// owns it.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes KEYS[1] if ARGV[1] still owns it: a holder whose
// lease ran out must not release the next holder's lock.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock implements client.Locker. It polls (1 ms doubling to 50 ms) until
// the lock is free or ctx is done; a Redis failure ends the wait with an
// error rather than proceed unlocked.
func (tc *TokenCache) Lock(ctx context.Context, key string) (func(), error) {
	k, err := tc.key("toklock", key)
	if err != nil {
		return nil, err
	}
	lease := tc.LockTTL
	if lease <= 0 {
		lease = DefaultTokenLockTTL
	}
	var raw [16]byte
	rand.Read(raw[:])
	owner := base64.RawURLEncoding.EncodeToString(raw[:])
	wait := time.Millisecond
	for {
		ok, err := tc.c.rdb.SetNX(ctx, k, owner, lease).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, tc.c.fail("token cache lock", err)
		}
		if ok {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	// Renew the lease while the lock is held, so a refresh slower than
	// the lease is still exclusive.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				rctx, cancel := context.WithTimeout(context.Background(), lease/3)
				renewScript.Run(rctx, tc.c.rdb, []string{k}, owner, lease.Milliseconds())
				cancel()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			// The caller's ctx may be done by now; the release must still
			// happen (or the lease ends it).
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultWriteTimeout)
			defer cancel()
			releaseScript.Run(rctx, tc.c.rdb, []string{k}, owner)
		})
	}, nil
}
