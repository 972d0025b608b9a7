package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

// Cache stores serialized tokens by key (a profile name). The values are
// opaque to the cache and secret: they hold refresh tokens.
//
// The contract every implementation (memory, file, or one outside this
// package such as Redis) must keep:
//   - Load returns the value last stored under key, or an error wrapping
//     ErrCacheMiss when there is none. Any other error means the cache
//     could not answer; callers then fail rather than log in again.
//   - Store replaces the value under key atomically: a concurrent Load
//     sees the old value or the new one, never a mix.
//   - Delete removes key; deleting a missing key is not an error.
//   - All methods are safe for concurrent use and honour ctx.
//   - Values are stored as given, byte for byte, and never logged.
//
// An implementation shared by several processes should also implement
// Locker, so that only one of them refreshes a token at a time; without it
// concurrent refreshes of a rotating refresh token can log the user out
// (RFC 9700 §4.14.2 reuse detection revokes the whole grant).
type Cache interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Store(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// Locker is implemented by caches that can serialize refreshes of one key
// across every user of the cache. Lock blocks until the caller holds the
// lock for key or ctx is done, and returns the function that releases it.
// The lock is advisory: it guards refreshes, not Load and Store.
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// ExpiringCache is implemented by caches that can drop an entry by
// themselves once it is useless, such as a shared Redis that must not keep
// refresh tokens forever. CachedTokenSource then stores through
// StoreExpiring instead of Store, with the moment the entry can no longer
// yield a token: the refresh token's expiry when the server said
// (refresh_expires_in), the access token's expiry when there is no refresh
// token, and the zero time when it is unknown, which leaves the bound to
// the cache. It must keep Store's guarantees.
type ExpiringCache interface {
	Cache
	StoreExpiring(ctx context.Context, key string, value []byte, expires time.Time) error
}

var (
	_ Cache  = (*MemoryCache)(nil)
	_ Locker = (*MemoryCache)(nil)
	_ Cache  = (*FileCache)(nil)
	_ Locker = (*FileCache)(nil)
)

// MemoryCache is a Cache and Locker in process memory. The zero value is
// ready to use; it is safe for concurrent use and must not be copied.
type MemoryCache struct {
	mu    sync.Mutex
	m     map[string][]byte        // guarded by mu
	locks map[string]chan struct{} // guarded by mu; one-slot semaphores
}

// Load implements Cache.
func (c *MemoryCache) Load(ctx context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if !ok {
		return nil, ErrCacheMiss
	}
	return append([]byte(nil), v...), nil
}

// Store implements Cache.
func (c *MemoryCache) Store(ctx context.Context, key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = append([]byte(nil), value...)
	return nil
}

// Delete implements Cache.
func (c *MemoryCache) Delete(ctx context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// Lock implements Locker.
func (c *MemoryCache) Lock(ctx context.Context, key string) (func(), error) {
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[string]chan struct{}{}
	}
	ch, ok := c.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		c.locks[key] = ch
	}
	c.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FileCache is a Cache and Locker that keeps one file per key in Dir:
// <Dir>/<key>.json holds the value (mode 0600, directory 0700) and
// <Dir>/<key>.lock is the lock file. Stores write a temporary file and
// rename it over the old one, so readers never see a partial file, even in
// other processes. On Unix, Lock takes an exclusive flock(2) on the lock
// file, so processes sharing Dir refresh one at a time; elsewhere it only
// serializes the goroutines of one process.
//
// Keys must match [A-Za-z0-9][A-Za-z0-9._-]* (at most 128 bytes), so a key
// can never name a file outside Dir. A FileCache is safe for concurrent use
// and must not be copied after first use.
type FileCache struct {
	// Dir is the cache directory, created on first Store.
	Dir string

	mem MemoryCache // in-process lock, see Lock
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (c *FileCache) path(key, ext string) (string, error) {
	if !keyPattern.MatchString(key) {
		return "", fmt.Errorf("client: cache key %q must match %s", key, keyPattern)
	}
	if c.Dir == "" {
		return "", errors.New("client: FileCache.Dir is empty")
	}
	return filepath.Join(c.Dir, key+ext), nil
}

// Load implements Cache.
func (c *FileCache) Load(ctx context.Context, key string) ([]byte, error) {
	p, err := c.path(key, ".json")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("client: cache: %w", err)
	}
	defer f.Close()
	b, err := readAllLimited(f)
	if err != nil {
		return nil, fmt.Errorf("client: cache: %w", err)
	}
	return b, nil
}

// Store implements Cache.
func (c *FileCache) Store(ctx context.Context, key string, value []byte) error {
	p, err := c.path(key, ".json")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("client: cache: %w", err)
	}
	tmp, err := writeTemp(c.Dir, key, value)
	if err != nil {
		return fmt.Errorf("client: cache: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("client: cache: %w", err)
	}
	return nil
}

// Delete implements Cache.
func (c *FileCache) Delete(ctx context.Context, key string) error {
	p, err := c.path(key, ".json")
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("client: cache: %w", err)
	}
	return nil
}

// Lock implements Locker: first the in-process lock for key (flock
// excludes other open files, but this also keeps goroutines from spinning
// on it), then the file lock.
func (c *FileCache) Lock(ctx context.Context, key string) (func(), error) {
	p, err := c.path(key, ".lock")
	if err != nil {
		return nil, err
	}
	unlockMem, err := c.mem.Lock(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		unlockMem()
		return nil, fmt.Errorf("client: cache: %w", err)
	}
	unlockFile, err := lockFile(ctx, p)
	if err != nil {
		unlockMem()
		return nil, fmt.Errorf("client: cache lock: %w", err)
	}
	return func() { unlockFile(); unlockMem() }, nil
}

// writeTemp writes b to a new mode-0600 temporary file in dir, synced to
// disk, and returns its name.
func writeTemp(dir, prefix string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+prefix+".*.tmp")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// readAllLimited reads r to its end, refusing more than maxResponseSize.
func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxResponseSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponseSize {
		return nil, errors.New("file too large")
	}
	return b, nil
}
