package main

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
)

// cacheFile is the profile's cache setting for the file cache, also what
// an empty setting means.
const cacheFile = "file"

// redisPrefixParam is the query parameter of a redis:// cache URL that
// sets the key prefix; it is taken out before the URL reaches go-redis.
const redisPrefixParam = "key_prefix"

// checkCache describes what is wrong with a cache setting, or "".
func checkCache(v string) string {
	if v == "" || v == cacheFile {
		return ""
	}
	if u, err := url.Parse(v); err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") && u.Host != "" {
		return ""
	}
	// The value may hold a Redis password: never quote it.
	return "unknown token cache: use --cache file or --cache redis://[user:password@]host:port/db[?key_prefix=...] (rediss:// for TLS)"
}

// openCache opens the profile's token cache: one file per profile in the
// cache directory, or a Redis shared by every process and machine that
// uses the same URL and prefix. close releases it.
func (s *settings) openCache(ctx context.Context) (c client.Cache, close func(), err error) {
	if s.Cache == "" || s.Cache == cacheFile {
		return &client.FileCache{Dir: s.cacheDir}, func() {}, nil
	}
	u, err := url.Parse(s.Cache)
	if err != nil {
		return nil, nil, errors.New("invalid Redis cache URL")
	}
	q := u.Query()
	prefix := q.Get(redisPrefixParam)
	q.Del(redisPrefixParam)
	u.RawQuery = q.Encode()
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := redis.Open(octx, u.String(), redis.Options{Prefix: prefix})
	if err != nil {
		// redis.Open never quotes the URL, which may hold a password.
		return nil, nil, errors.New("token cache: " + strings.TrimPrefix(err.Error(), "redis: ") + ": check --cache (the profile's cache) and that Redis is up")
	}
	return rc.TokenCache(), func() { rc.Close() }, nil
}

// freshCache makes a CachedTokenSource log in: it hides the entry in the
// cache, so the source fetches, and stores the result in the real cache,
// through its lock and its expiry when it has them.
type freshCache struct{ client.Cache }

var (
	_ client.Locker        = freshCache{}
	_ client.ExpiringCache = freshCache{}
)

func (freshCache) Load(context.Context, string) ([]byte, error) { return nil, client.ErrCacheMiss }

func (f freshCache) Lock(ctx context.Context, key string) (func(), error) {
	if l, ok := f.Cache.(client.Locker); ok {
		return l.Lock(ctx, key)
	}
	return func() {}, nil
}

func (f freshCache) StoreExpiring(ctx context.Context, key string, value []byte, expires time.Time) error {
	if ec, ok := f.Cache.(client.ExpiringCache); ok {
		return ec.StoreExpiring(ctx, key, value, expires)
	}
	return f.Cache.Store(ctx, key, value)
}
