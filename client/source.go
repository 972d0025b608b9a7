package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// invalidator is implemented by the token sources of this package: the
// Transport calls it when a resource server rejects a token as
// invalid_token, so the next Token refreshes instead of returning the same
// token again.
type invalidator interface {
	invalidate(accessToken string)
}

// ClientCredentials returns a token source for the client credentials grant
// (RFC 6749 §4.4), like clientcredentials.Config.TokenSource: it returns
// its token until it expires, then requests a new one. ctx bounds every
// request the source makes. The source is safe for concurrent use.
func (c *Config) ClientCredentials(ctx context.Context) oauth2.TokenSource {
	return &reuseSource{ctx: ctx, c: c, fetch: func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		return c.clientCredentialsToken(ctx)
	}}
}

func (c *Config) clientCredentialsToken(ctx context.Context) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	return c.tokenRequest(ctx, form)
}

// TokenSource returns a token source that starts from t and refreshes it
// with its refresh token when it expires (RFC 6749 §6), like
// oauth2.Config.TokenSource. When the server rotates the refresh token the
// new one is used from then on; when it does not, the old one is kept
// (FAPI 2.0 SP §5.3.3.1-6). To keep a rotated refresh token across runs,
// use CachedTokenSource instead. The source is safe for concurrent use.
func (c *Config) TokenSource(ctx context.Context, t *oauth2.Token) oauth2.TokenSource {
	return &reuseSource{ctx: ctx, c: c, tok: t, fetch: func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		if old == nil || old.RefreshToken == "" {
			return nil, fmt.Errorf("%w: the token has expired and has no refresh token", ErrLoginRequired)
		}
		return c.refresh(ctx, old.RefreshToken)
	}}
}

// refresh redeems a refresh token. A response without refresh_token keeps
// the old one (RFC 6749 §6: the server "MAY issue a new refresh token").
func (c *Config) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	t, err := c.tokenRequest(ctx, url.Values{"grant_type": {oauth.GrantRefreshToken}, "refresh_token": {refreshToken}})
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// reuseSource returns its token until it expires and then calls fetch.
type reuseSource struct {
	ctx   context.Context
	c     *Config
	fetch func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error)

	mu    sync.Mutex
	tok   *oauth2.Token // guarded by mu
	stale bool          // guarded by mu: tok was rejected by a resource server
}

func (s *reuseSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stale && valid(s.tok, s.c.now()) {
		return s.tok, nil
	}
	t, err := s.fetch(s.ctx, s.tok)
	if err != nil {
		return nil, err
	}
	s.tok, s.stale = t, false
	return t, nil
}

func (s *reuseSource) invalidate(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == accessToken {
		s.stale = true
	}
}

// cacheEntry is the serialized form of a token in a Cache. Its JSON names
// are a storage format: add fields, do not rename them.
type cacheEntry struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	// RefreshExpiry is when the refresh token expires, when the server
	// said (refresh_expires_in); zero means unknown.
	RefreshExpiry time.Time `json:"refresh_expiry,omitzero"`
	// DPoPJKT is the thumbprint of the key the tokens are bound to.
	DPoPJKT string         `json:"dpop_jkt,omitempty"`
	Extra   map[string]any `json:"extra,omitempty"`
}

// cachedExtras are the token response members kept in a cache entry and
// restored into oauth2.Token.Extra.
var cachedExtras = []string{"id_token", "scope", "issued_token_type"}

func (e *cacheEntry) token() *oauth2.Token {
	t := &oauth2.Token{AccessToken: e.AccessToken, TokenType: e.TokenType, RefreshToken: e.RefreshToken, Expiry: e.Expiry}
	if len(e.Extra) > 0 {
		t = t.WithExtra(e.Extra)
	}
	return t
}

// CachedTokenSource returns a token source backed by cache under key (a
// profile name), for programs that run many times, such as a CLI:
//
//  1. a still-valid access token from memory or the cache is returned;
//  2. otherwise, holding the cache's lock (when it is a Locker), it reads
//     the cache again, since another process may have just refreshed, and
//     returns that token if it is valid;
//  3. otherwise it redeems the cached refresh token and stores the result,
//     the rotated refresh token included;
//  4. when there is no refresh token or the server refuses it
//     (invalid_grant), it calls fetch (such as Config.Login, or the client
//     credentials grant) and stores the result. A nil fetch makes this
//     ErrLoginRequired.
//
// Entries bound to another DPoP key than the Config's are ignored, so
// persist the key (LoadOrCreateDPoPKey) along with the cache. Network and
// server errors during a refresh are returned, not turned into a new
// login. ctx bounds every request and lock wait. The source is safe for
// concurrent use.
func (c *Config) CachedTokenSource(ctx context.Context, cache Cache, key string, fetch func(context.Context) (*oauth2.Token, error)) oauth2.TokenSource {
	return &cachedSource{ctx: ctx, c: c, cache: cache, key: key, fetch: fetch}
}

type cachedSource struct {
	ctx   context.Context
	c     *Config
	cache Cache
	key   string
	fetch func(context.Context) (*oauth2.Token, error)

	mu sync.Mutex
	// tok is the last token returned; staleAT an access token a
	// resource server rejected. Both guarded by mu.
	tok     *oauth2.Token
	staleAT string
}

func (s *cachedSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if valid(s.tok, s.c.now()) && s.tok.AccessToken != s.staleAT {
		return s.tok, nil
	}
	e, err := s.load()
	if err != nil {
		return nil, err
	}
	if s.usable(e) {
		s.tok = e.token()
		return s.tok, nil
	}
	if l, ok := s.cache.(Locker); ok {
		unlock, err := l.Lock(s.ctx, s.key)
		if err != nil {
			return nil, err
		}
		defer unlock()
		// Another process may have refreshed while we waited.
		if e, err = s.load(); err != nil {
			return nil, err
		}
		if s.usable(e) {
			s.tok = e.token()
			return s.tok, nil
		}
	}
	var t *oauth2.Token
	var keepExpiry time.Time
	if e != nil && e.RefreshToken != "" && (e.RefreshExpiry.IsZero() || s.c.now().Before(e.RefreshExpiry)) {
		t, err = s.c.refresh(s.ctx, e.RefreshToken)
		var re *RetrieveError
		if errors.As(err, &re) && re.ErrorCode == oauth.ErrInvalidGrant {
			// The refresh token is dead (expired, revoked, or reused):
			// only a new grant helps.
			t, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if t != nil && t.RefreshToken == e.RefreshToken {
			// Not rotated: the old refresh token keeps its expiry.
			keepExpiry = e.RefreshExpiry
		}
	}
	if t == nil {
		if s.fetch == nil {
			if e != nil {
				s.cache.Delete(s.ctx, s.key)
			}
			return nil, ErrLoginRequired
		}
		if t, err = s.fetch(s.ctx); err != nil {
			return nil, err
		}
	}
	if err := s.store(t, keepExpiry); err != nil {
		return nil, err
	}
	s.tok, s.staleAT = t, ""
	return t, nil
}

// load reads the entry; a miss is (nil, nil).
func (s *cachedSource) load() (*cacheEntry, error) {
	b, err := s.cache.Load(s.ctx, s.key)
	if errors.Is(err, ErrCacheMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		// A corrupt entry is a miss: it is overwritten by the next store.
		return nil, nil
	}
	key, err := s.c.dpopKey()
	if err != nil {
		return nil, err
	}
	switch {
	case key != nil && e.DPoPJKT != key.Thumbprint():
		return nil, nil
	case key == nil && e.DPoPJKT != "":
		return nil, nil
	}
	return &e, nil
}

func (s *cachedSource) usable(e *cacheEntry) bool {
	return e != nil && e.AccessToken != s.staleAT && valid(e.token(), s.c.now())
}

// store writes t to the cache. refreshExpiry is the refresh token's known
// expiry when it was not rotated; a refresh_expires_in in t wins.
func (s *cachedSource) store(t *oauth2.Token, refreshExpiry time.Time) error {
	e := cacheEntry{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, Expiry: t.Expiry, RefreshExpiry: refreshExpiry}
	if secs, ok := number(t.Extra("refresh_expires_in")); ok && secs > 0 {
		e.RefreshExpiry = s.c.now().Add(time.Duration(secs) * time.Second)
	}
	for _, k := range cachedExtras {
		if v := t.Extra(k); v != nil {
			if e.Extra == nil {
				e.Extra = map[string]any{}
			}
			e.Extra[k] = v
		}
	}
	key, err := s.c.dpopKey()
	if err != nil {
		return err
	}
	if key != nil {
		// Even a Bearer fallback's refresh token may be bound to the key.
		e.DPoPJKT = key.Thumbprint()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("client: cache: %w", err)
	}
	if ec, ok := s.cache.(ExpiringCache); ok {
		return ec.StoreExpiring(s.ctx, s.key, b, e.uselessAfter())
	}
	return s.cache.Store(s.ctx, s.key, b)
}

// uselessAfter is when e can no longer yield a token (zero: unknown), the
// bound an ExpiringCache keeps it by.
func (e *cacheEntry) uselessAfter() time.Time {
	if e.RefreshToken == "" {
		return e.Expiry
	}
	return e.RefreshExpiry
}

func (s *cachedSource) invalidate(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staleAT = accessToken
}
