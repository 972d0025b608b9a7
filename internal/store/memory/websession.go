package memory

import (
	"context"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// WebSessions keeps BFF sessions and pending logins in process memory:
// the embedded default of `bulwark bff`, for one node. Sessions do not
// survive a restart; users then sign in again. It is safe for concurrent
// use. Create it with NewWebSessions.
type WebSessions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	sessions map[string]store.WebSession // guarded by mu
	logins   map[string]pendingLogin     // guarded by mu
	ops      int                         // guarded by mu: writes since the last sweep
}

type pendingLogin struct {
	data []byte
	exp  time.Time
}

var (
	_ store.WebSessions   = (*WebSessions)(nil)
	_ store.PendingLogins = (*Logins)(nil)
)

// NewWebSessions returns an empty in-memory session store.
func NewWebSessions() *WebSessions {
	return &WebSessions{sessions: map[string]store.WebSession{}, logins: map[string]pendingLogin{}}
}

// Logins is the PendingLogins view of a WebSessions.
type Logins struct{ s *WebSessions }

// Logins returns the pending-login store that shares w's memory.
func (w *WebSessions) Logins() *Logins { return &Logins{w} }

func (w *WebSessions) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// sweepLocked drops expired entries every 1024 writes, so the maps stay
// bounded by the live sessions without a timer goroutine.
func (w *WebSessions) sweepLocked(now time.Time) {
	if w.ops++; w.ops < 1024 {
		return
	}
	w.ops = 0
	for k, s := range w.sessions {
		if !now.Before(s.ExpiresAt) {
			delete(w.sessions, k)
		}
	}
	for k, l := range w.logins {
		if !now.Before(l.exp) {
			delete(w.logins, k)
		}
	}
}

func cloneSession(s store.WebSession) *store.WebSession {
	s.Data = append([]byte(nil), s.Data...)
	return &s
}

// Create implements store.WebSessions.
func (w *WebSessions) Create(_ context.Context, hash string, s *store.WebSession) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	w.sweepLocked(now)
	if old, ok := w.sessions[hash]; ok && now.Before(old.ExpiresAt) {
		return store.ErrConflict
	}
	s.Version = 1
	w.sessions[hash] = *cloneSession(*s)
	return nil
}

// Get implements store.WebSessions.
func (w *WebSessions) Get(_ context.Context, hash string) (*store.WebSession, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[hash]
	if !ok || !w.now().Before(s.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return cloneSession(s), nil
}

// Update implements store.WebSessions.
func (w *WebSessions) Update(_ context.Context, hash string, s *store.WebSession) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	old, ok := w.sessions[hash]
	if !ok || !w.now().Before(old.ExpiresAt) {
		return store.ErrNotFound
	}
	if old.Version != s.Version {
		return store.ErrConflict
	}
	s.Version++
	w.sessions[hash] = *cloneSession(*s)
	return nil
}

// Delete implements store.WebSessions.
func (w *WebSessions) Delete(_ context.Context, hash string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sessions, hash)
	return nil
}

// DeleteBySubject implements store.WebSessions. It scans every session:
// back-channel logouts are rare next to requests.
func (w *WebSessions) DeleteBySubject(_ context.Context, subject, sid string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, now := 0, w.now()
	for k, s := range w.sessions {
		if (sid != "" && s.SID == sid) || (sid == "" && subject != "" && s.Subject == subject) {
			delete(w.sessions, k)
			if now.Before(s.ExpiresAt) {
				n++
			}
		}
	}
	return n, nil
}

// Put implements store.PendingLogins.
func (l *Logins) Put(_ context.Context, hash string, data []byte, exp time.Time) error {
	w := l.s
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	w.sweepLocked(now)
	if old, ok := w.logins[hash]; ok && now.Before(old.exp) {
		return store.ErrConflict
	}
	w.logins[hash] = pendingLogin{data: append([]byte(nil), data...), exp: exp}
	return nil
}

// Take implements store.PendingLogins.
func (l *Logins) Take(_ context.Context, hash string) ([]byte, error) {
	w := l.s
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.logins[hash]
	delete(w.logins, hash)
	if !ok || !w.now().Before(p.exp) {
		return nil, store.ErrNotFound
	}
	return p.data, nil
}
