package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// WebStores are the BFF's two stores of one back end.
type WebStores struct {
	Sessions store.WebSessions
	Logins   store.PendingLogins
}

// RunWebSessions is the conformance suite of store.WebSessions and
// store.PendingLogins. open returns fresh, empty stores for each case.
func RunWebSessions(t *testing.T, open func(t *testing.T) WebStores) {
	ctx := t.Context()
	now := time.Now()
	sess := func(sub, sid string) *store.WebSession {
		return &store.WebSession{Subject: sub, SID: sid, Data: []byte("sealed\x00data"), CreatedAt: now.Truncate(time.Millisecond), ExpiresAt: now.Add(time.Hour).Truncate(time.Millisecond)}
	}
	t.Run("ok/create get", func(t *testing.T) {
		s := open(t).Sessions
		in := sess("alice", "sid-1")
		if err := s.Create(ctx, store.Hash("a"), in); err != nil || in.Version != 1 {
			t.Fatalf("Create: %v, version %d", err, in.Version)
		}
		got, err := s.Get(ctx, store.Hash("a"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != "alice" || got.SID != "sid-1" || string(got.Data) != "sealed\x00data" || got.Version != 1 ||
			!got.ExpiresAt.Equal(in.ExpiresAt) || !got.CreatedAt.Equal(in.CreatedAt) {
			t.Errorf("Get = %+v, want %+v", got, in)
		}
		if _, err := s.Get(ctx, store.Hash("other")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
	})
	t.Run("fail/create conflict", func(t *testing.T) {
		s := open(t).Sessions
		if err := s.Create(ctx, store.Hash("a"), sess("alice", "")); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, store.Hash("a"), sess("mallory", "")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second Create = %v, want ErrConflict", err)
		}
	})
	t.Run("fail/expired", func(t *testing.T) {
		s := open(t).Sessions
		in := sess("alice", "")
		in.ExpiresAt = now.Add(-time.Second)
		if err := s.Create(ctx, store.Hash("a"), in); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, store.Hash("a")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(expired) = %v, want ErrNotFound", err)
		}
		if err := s.Update(ctx, store.Hash("a"), in); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update(expired) = %v, want ErrNotFound", err)
		}
		// An expired hash may be created again.
		if err := s.Create(ctx, store.Hash("a"), sess("alice", "")); err != nil {
			t.Errorf("Create over expired: %v", err)
		}
	})
	t.Run("ok/update moves expiry; stale version conflicts", func(t *testing.T) {
		s := open(t).Sessions
		in := sess("alice", "")
		if err := s.Create(ctx, store.Hash("a"), in); err != nil {
			t.Fatal(err)
		}
		stale := *in
		in.Data, in.ExpiresAt = []byte("new"), now.Add(2*time.Hour).Truncate(time.Millisecond)
		if err := s.Update(ctx, store.Hash("a"), in); err != nil || in.Version != 2 {
			t.Fatalf("Update: %v, version %d", err, in.Version)
		}
		if err := s.Update(ctx, store.Hash("a"), &stale); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Update(stale) = %v, want ErrConflict", err)
		}
		got, err := s.Get(ctx, store.Hash("a"))
		if err != nil || string(got.Data) != "new" || got.Version != 2 || !got.ExpiresAt.Equal(in.ExpiresAt) {
			t.Errorf("Get = %+v, %v", got, err)
		}
		if err := s.Update(ctx, store.Hash("missing"), in); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update(missing) = %v, want ErrNotFound", err)
		}
	})
	t.Run("race/update compare-and-set", func(t *testing.T) {
		s := open(t).Sessions
		if err := s.Create(ctx, store.Hash("a"), sess("alice", "")); err != nil {
			t.Fatal(err)
		}
		const n = 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := sess("alice", "")
				u.Version = 1
				u.Data = fmt.Appendf(nil, "writer %d", i)
				err := s.Update(ctx, store.Hash("a"), u)
				switch {
				case err == nil:
					mu.Lock()
					won++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("Update: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d of %d concurrent updates of version 1 won, want exactly 1", won, n)
		}
	})
	t.Run("ok/delete", func(t *testing.T) {
		s := open(t).Sessions
		if err := s.Create(ctx, store.Hash("a"), sess("alice", "")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, store.Hash("a")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, store.Hash("a")); err != nil {
			t.Errorf("Delete(missing) = %v", err)
		}
		if _, err := s.Get(ctx, store.Hash("a")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(deleted) = %v", err)
		}
	})
	t.Run("ok/delete by sid and subject", func(t *testing.T) {
		s := open(t).Sessions
		for h, in := range map[string]*store.WebSession{
			"a1": sess("alice", "sid-1"), "a2": sess("alice", "sid-1"), "a3": sess("alice", "sid-2"), "b": sess("bob", "sid-3"),
		} {
			if err := s.Create(ctx, store.Hash(h), in); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.DeleteBySubject(ctx, "ignored-with-sid", "sid-1"); err != nil || n != 2 {
			t.Errorf("DeleteBySubject(sid-1) = %d, %v; want 2", n, err)
		}
		if _, err := s.Get(ctx, store.Hash("a3")); err != nil {
			t.Errorf("another sid's session is gone: %v", err)
		}
		if n, err := s.DeleteBySubject(ctx, "alice", ""); err != nil || n != 1 {
			t.Errorf("DeleteBySubject(alice) = %d, %v; want 1", n, err)
		}
		if _, err := s.Get(ctx, store.Hash("b")); err != nil {
			t.Errorf("bob's session is gone: %v", err)
		}
		if n, err := s.DeleteBySubject(ctx, "", ""); err != nil || n != 0 {
			t.Errorf("DeleteBySubject(empty) = %d, %v; want 0", n, err)
		}
	})
	t.Run("ok/delete by subject after a shorter-lived session", func(t *testing.T) {
		// A later session that expires sooner must not hide the earlier
		// one from a logout by subject.
		s := open(t).Sessions
		long := sess("alice", "")
		if err := s.Create(ctx, store.Hash("long"), long); err != nil {
			t.Fatal(err)
		}
		short := sess("alice", "")
		short.ExpiresAt = now.Add(50 * time.Millisecond)
		if err := s.Create(ctx, store.Hash("short"), short); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if n, err := s.DeleteBySubject(ctx, "alice", ""); err != nil || n != 1 {
			t.Errorf("DeleteBySubject = %d, %v; want the long-lived session", n, err)
		}
	})
	t.Run("ok/login taken once", func(t *testing.T) {
		l := open(t).Logins
		if err := l.Put(ctx, store.Hash("h"), []byte("state"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := l.Put(ctx, store.Hash("h"), []byte("other"), now.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second Put = %v, want ErrConflict", err)
		}
		if b, err := l.Take(ctx, store.Hash("h")); err != nil || string(b) != "state" {
			t.Errorf("Take = %q, %v", b, err)
		}
		if _, err := l.Take(ctx, store.Hash("h")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second Take = %v, want ErrNotFound", err)
		}
	})
	t.Run("fail/login expired", func(t *testing.T) {
		l := open(t).Logins
		if err := l.Put(ctx, store.Hash("h"), []byte("state"), now.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Take(ctx, store.Hash("h")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Take(expired) = %v, want ErrNotFound", err)
		}
	})
	t.Run("race/login take", func(t *testing.T) {
		l := open(t).Logins
		if err := l.Put(ctx, store.Hash("h"), []byte("state"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		const n = 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := l.Take(ctx, store.Hash("h"))
				switch {
				case err == nil:
					mu.Lock()
					got++
					mu.Unlock()
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("Take: %v", err)
				}
			}()
		}
		wg.Wait()
		if got != 1 {
			t.Errorf("%d of %d concurrent takes succeeded, want exactly 1", got, n)
		}
	})
}
