package store

import (
	"context"
	"time"
)

// WebSession is a browser session of the BFF (`bulwark bff`), stored
// under the Hash of its cookie value, so a reader of the store cannot
// present it.
type WebSession struct {
	// Subject is the end-user's sub at the provider.
	Subject string
	// SID is the provider's session ID (the ID token's sid), by which a
	// back-channel logout names the session; empty when none was sent.
	SID string
	// Data is opaque to the store. The BFF keeps the tokens in it,
	// encrypted.
	Data []byte
	// CreatedAt is when the session began (the login).
	CreatedAt time.Time
	// ExpiresAt is when the session ends unless Update moves it: the
	// earlier of the idle and the absolute limit. Get reports an expired
	// session as ErrNotFound.
	ExpiresAt time.Time
	// Version is the compare-and-set counter: Create stores 1 and every
	// successful Update adds one. Set by the store.
	Version int64
}

// WebSessions stores BFF sessions. Implementations are safe for
// concurrent use, and Update is atomic across every node that shares the
// back end, which is what lets exactly one node refresh a session's
// tokens.
type WebSessions interface {
	// Create stores s under hash with Version 1 (and sets s.Version);
	// an existing live hash is ErrConflict.
	Create(ctx context.Context, hash string, s *WebSession) error
	// Get returns the session, or ErrNotFound when missing or expired.
	Get(ctx context.Context, hash string) (*WebSession, error)
	// Update replaces the session if its stored Version still equals
	// s.Version, and then sets s.Version to the new one. A newer stored
	// version is ErrConflict; a missing or expired session ErrNotFound.
	Update(ctx context.Context, hash string, s *WebSession) error
	// Delete removes the session; a missing one is not an error.
	Delete(ctx context.Context, hash string) error
	// DeleteBySubject removes every session of the provider session sid
	// when sid is set, else every session of subject (OIDC Back-Channel
	// Logout 1.0 §2.7), and returns how many it removed.
	DeleteBySubject(ctx context.Context, subject, sid string) (int, error)
}

// PendingLogins holds the state of logins in flight (state, nonce, PKCE
// verifier), stored under the Hash of the handle in the browser's login
// cookie. Each is taken once.
type PendingLogins interface {
	// Put stores data under hash until exp; an existing live hash is
	// ErrConflict.
	Put(ctx context.Context, hash string, data []byte, exp time.Time) error
	// Take returns the data and removes it, atomically: of concurrent
	// callers exactly one gets it, the others ErrNotFound, as does a
	// missing or expired entry.
	Take(ctx context.Context, hash string) ([]byte, error)
}
