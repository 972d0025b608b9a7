package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/client"
)

// Opener prepares empty storage for one test and returns a function that
// opens a handle on it. Each call of the handle function should open a new
// handle (a new FileCache value on the same directory, a new connection
// pool on the same Redis and prefix), as another process would; a cache
// that lives in one process returns the same value every time.
type Opener func(t *testing.T) (open func() client.Cache)

// Keys used by the suite match the FileCache key alphabet, which is the
// narrowest of the implementations.
const (
	keyA = "default.0123456789ab"
	keyB = "other-profile.ba9876543210"
)

// Run runs the whole suite against the caches newCache makes, with the
// Locker and ExpiringCache parts when the caches implement them. Each case
// gets fresh storage.
func Run(t *testing.T, newCache Opener) {
	t.Helper()
	ctx := context.Background()
	t.Run("ok/miss", func(t *testing.T) {
		c := newCache(t)()
		if _, err := c.Load(ctx, keyA); !errors.Is(err, client.ErrCacheMiss) {
			t.Errorf("Load of a missing key = %v, want ErrCacheMiss", err)
		}
	})
	t.Run("ok/store replace load", func(t *testing.T) {
		c := newCache(t)()
		mustStore(t, c, keyA, []byte("v1"))
		mustStore(t, c, keyA, []byte("v2"))
		wantLoad(t, c, keyA, []byte("v2"))
	})
	t.Run("ok/values byte for byte", func(t *testing.T) {
		c := newCache(t)()
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		for _, v := range [][]byte{all, {}, bytes.Repeat([]byte(`{"access_token":"x"}`), 4000)} {
			mustStore(t, c, keyA, v)
			wantLoad(t, c, keyA, v)
		}
	})
	t.Run("ok/values are copied", func(t *testing.T) {
		c := newCache(t)()
		v := []byte("original")
		mustStore(t, c, keyA, v)
		v[0] = 'X'
		got := wantLoad(t, c, keyA, []byte("original"))
		got[0] = 'Y'
		wantLoad(t, c, keyA, []byte("original"))
	})
	t.Run("ok/keys are independent", func(t *testing.T) {
		c := newCache(t)()
		mustStore(t, c, keyA, []byte("a"))
		mustStore(t, c, keyB, []byte("b"))
		if err := c.Delete(ctx, keyB); err != nil {
			t.Fatal(err)
		}
		wantLoad(t, c, keyA, []byte("a"))
		if _, err := c.Load(ctx, keyB); !errors.Is(err, client.ErrCacheMiss) {
			t.Errorf("Load after Delete = %v, want ErrCacheMiss", err)
		}
	})
	t.Run("ok/delete", func(t *testing.T) {
		c := newCache(t)()
		if err := c.Delete(ctx, keyA); err != nil {
			t.Errorf("Delete of a missing key = %v", err)
		}
		mustStore(t, c, keyA, []byte("v"))
		if err := c.Delete(ctx, keyA); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, keyA); err != nil {
			t.Errorf("second Delete = %v", err)
		}
		if _, err := c.Load(ctx, keyA); !errors.Is(err, client.ErrCacheMiss) {
			t.Errorf("Load after Delete = %v, want ErrCacheMiss", err)
		}
		mustStore(t, c, keyA, []byte("again"))
		wantLoad(t, c, keyA, []byte("again"))
	})
	t.Run("ok/shared between handles", func(t *testing.T) {
		open := newCache(t)
		a, b := open(), open()
		mustStore(t, a, keyA, []byte("from a"))
		wantLoad(t, b, keyA, []byte("from a"))
		if err := b.Delete(ctx, keyA); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Load(ctx, keyA); !errors.Is(err, client.ErrCacheMiss) {
			t.Errorf("Load after another handle's Delete = %v, want ErrCacheMiss", err)
		}
	})
	t.Run("ok/atomic replace", func(t *testing.T) { atomicReplace(t, newCache(t)) })
	if _, ok := newCache(t)().(client.Locker); ok {
		t.Run("locker", func(t *testing.T) { runLocker(t, newCache) })
	}
	if _, ok := newCache(t)().(client.ExpiringCache); ok {
		t.Run("expiring", func(t *testing.T) { runExpiring(t, newCache) })
	}
}

// atomicReplace has writers replace the value with large values of one
// repeated byte while readers on other handles check that every read is
// one whole value, never a mix or a prefix.
func atomicReplace(t *testing.T, open func() client.Cache) {
	ctx := context.Background()
	const size, writers, rounds = 64 << 10, 4, 20
	value := func(w, r int) []byte { return bytes.Repeat([]byte{byte('a' + (w*rounds+r)%26)}, size) }
	mustStore(t, open(), keyA, value(0, 0))
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 64)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := open()
			for r := range rounds {
				if err := c.Store(ctx, keyA, value(w, r)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c := open()
			for {
				select {
				case <-done:
					return
				default:
				}
				b, err := c.Load(ctx, keyA)
				if err != nil {
					errs <- fmt.Errorf("Load during replacement: %w", err)
					return
				}
				if len(b) != size || bytes.Count(b, b[:1]) != size {
					errs <- fmt.Errorf("Load saw a partial or mixed value (%d bytes)", len(b))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func runLocker(t *testing.T, newCache Opener) {
	ctx := context.Background()
	t.Run("ok/exclusive across handles", func(t *testing.T) {
		open := newCache(t)
		// Each goroutine increments a counter kept in the cache while
		// holding the lock, on its own handle; any overlap loses an
		// increment.
		const n = 10
		mustStore(t, open(), keyA, []byte("0"))
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := open()
				unlock, err := c.(client.Locker).Lock(ctx, keyA)
				if err != nil {
					t.Error(err)
					return
				}
				defer unlock()
				b, err := c.Load(ctx, keyA)
				if err != nil {
					t.Error(err)
					return
				}
				var v int
				fmt.Sscan(string(b), &v)
				// Give a second holder every chance to overlap.
				time.Sleep(time.Millisecond)
				if err := c.Store(ctx, keyA, fmt.Append(nil, v+1)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		wantLoad(t, open(), keyA, fmt.Append(nil, n))
	})
	t.Run("ok/waits until released or ctx ends", func(t *testing.T) {
		open := newCache(t)
		a, b := open().(client.Locker), open().(client.Locker)
		unlock, err := a.Lock(ctx, keyA)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := b.Lock(short, keyA); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock of a held key = %v, want to wait until the deadline", err)
		}
		// Another key is not held.
		unlockB, err := b.Lock(ctx, keyB)
		if err != nil {
			t.Fatalf("Lock of another key = %v", err)
		}
		unlockB()
		got := make(chan error, 1)
		go func() {
			u, err := b.Lock(ctx, keyA)
			if err == nil {
				u()
			}
			got <- err
		}()
		unlock()
		if err := <-got; err != nil {
			t.Errorf("Lock after release = %v", err)
		}
	})
	t.Run("ok/lock does not guard Load and Store", func(t *testing.T) {
		open := newCache(t)
		a, b := open(), open()
		unlock, err := a.(client.Locker).Lock(ctx, keyA)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		mustStore(t, b, keyA, []byte("v"))
		wantLoad(t, b, keyA, []byte("v"))
	})
}

func runExpiring(t *testing.T, newCache Opener) {
	ctx := context.Background()
	open := newCache(t)
	c := open().(client.ExpiringCache)
	for _, tc := range []struct {
		name    string
		expires time.Time
		want    bool
	}{
		{"ok/unknown expiry keeps the entry", time.Time{}, true},
		{"ok/future expiry keeps the entry", time.Now().Add(time.Hour), true},
		{"ok/past expiry drops the entry", time.Now().Add(-time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustStore(t, c, keyA, []byte("old"))
			if err := c.StoreExpiring(ctx, keyA, []byte("new"), tc.expires); err != nil {
				t.Fatal(err)
			}
			b, err := open().Load(ctx, keyA)
			switch {
			case tc.want && (err != nil || string(b) != "new"):
				t.Errorf("Load = %q, %v; want the stored value", b, err)
			case !tc.want && !errors.Is(err, client.ErrCacheMiss):
				t.Errorf("Load = %q, %v; want ErrCacheMiss: the entry was already useless", b, err)
			}
		})
	}
}

func mustStore(t *testing.T, c client.Cache, key string, v []byte) {
	t.Helper()
	if err := c.Store(context.Background(), key, v); err != nil {
		t.Fatalf("Store: %v", err)
	}
}

func wantLoad(t *testing.T, c client.Cache, key string, want []byte) []byte {
	t.Helper()
	b, err := c.Load(context.Background(), key)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("Load = %.40q (%d bytes), %v; want %.40q (%d bytes)", b, len(b), err, want, len(want))
	}
	return b
}
