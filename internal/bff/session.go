package bff

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// refreshLease is how long a node may hold a session's refresh before
// another node may take it over (the holder crashed).
const refreshLease = 15 * time.Second

// maxLeaseWait bounds how long a request waits for another node's
// refresh when its own access token has run out.
const maxLeaseWait = 3 * time.Second

// errNoSession means the request has no live session: 401 on the API,
// a redirect to sign in elsewhere.
var errNoSession = errors.New("bff: no session")

// sessionData is what a session holds, sealed with AES-256-GCM before it
// reaches the store. Its JSON names are a storage format.
type sessionData struct {
	AccessToken  string    `json:"at"`
	TokenType    string    `json:"tt"`
	RefreshToken string    `json:"rt,omitempty"`
	Expiry       time.Time `json:"exp,omitzero"`
	IDToken      string    `json:"idt,omitempty"`
	// Claims are the ID token's claims, for userinfo and /oauth2/auth.
	Claims map[string]any `json:"claims,omitempty"`
	// RefreshedAt is when the tokens were last obtained.
	RefreshedAt time.Time `json:"ra"`
	// AbsoluteExpiry is the session's hard end.
	AbsoluteExpiry time.Time `json:"abs"`
	// LeaseUntil, when in the future, says a node is refreshing.
	LeaseUntil time.Time `json:"lease,omitzero"`
}

func (d *sessionData) token() *oauth2.Token {
	return &oauth2.Token{AccessToken: d.AccessToken, TokenType: d.TokenType, Expiry: d.Expiry}
}

// session is a loaded session: its store record and opened data.
type session struct {
	hash string
	rec  *store.WebSession
	data *sessionData
}

// sealer encrypts session data, bound to the session's hash.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	if secret == nil {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	if len(secret) < 32 {
		return nil, errors.New("bff: the session secret must be at least 32 bytes")
	}
	// Derive the AES key rather than use the configured bytes directly,
	// so the secret may be any long string.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bulwark bff session v1"))
	blk, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(hash string, d *sessionData) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(b)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, b, []byte(hash)), nil
}

func (s *sealer) open(hash string, b []byte) (*sessionData, error) {
	n := s.aead.NonceSize()
	if len(b) < n {
		return nil, errors.New("bff: sealed session too short")
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(hash))
	if err != nil {
		return nil, fmt.Errorf("bff: open session: %w", err)
	}
	var d sessionData
	if err := json.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("bff: session data: %w", err)
	}
	return &d, nil
}

// newID returns a fresh 256-bit cookie value.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookie builds one of the BFF's cookies. maxAge < 0 deletes it.
func (b *BFF) cookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, Secure: !b.cfg.InsecureCookies, HttpOnly: true, SameSite: sameSite}
}

func (b *BFF) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, b.cookie(b.cookieName, "", -1, b.sameSite))
}

// load returns the request's live session with tokens that are fresh
// enough to use, refreshing them first when due, and moves the idle
// expiry. A refresh that fails ends the session.
func (b *BFF) load(ctx context.Context, r *http.Request) (*session, error) {
	c, err := r.Cookie(b.cookieName)
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	hash := store.Hash(c.Value)
	s, err := b.get(ctx, hash)
	if err != nil {
		return nil, err
	}
	now := b.cfg.now()
	if b.refreshDue(s.data, now) {
		if s, err = b.refresh(ctx, hash); err != nil {
			return nil, err
		}
	}
	b.touch(ctx, s, now)
	return s, nil
}

// get reads and opens a session; a missing, expired or undecryptable one
// is errNoSession.
func (b *BFF) get(ctx context.Context, hash string) (*session, error) {
	rec, err := b.sessions.Get(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	d, err := b.sealer.open(hash, rec.Data)
	if err != nil {
		// Sealed with another secret: useless, so gone.
		b.sessions.Delete(ctx, hash)
		return nil, errNoSession
	}
	// The store judges expiry by its own clock; the BFF's decides too.
	if now := b.cfg.now(); !now.Before(d.AbsoluteExpiry) || !now.Before(rec.ExpiresAt) {
		b.sessions.Delete(ctx, hash)
		return nil, errNoSession
	}
	return &session{hash: hash, rec: rec, data: d}, nil
}

// refreshDue reports whether d's tokens should be refreshed at now.
func (b *BFF) refreshDue(d *sessionData, now time.Time) bool {
	if now.Sub(d.RefreshedAt) >= b.refreshInterval {
		return true
	}
	return !d.Expiry.IsZero() && !now.Before(d.Expiry.Add(-b.refreshAhead))
}

// usable reports whether d's access token can still be sent at now.
func usable(d *sessionData, now time.Time) bool {
	return d.Expiry.IsZero() || now.Add(time.Second).Before(d.Expiry)
}

// touch moves the idle expiry forward, writing at most once per tenth of
// the idle timeout so that most requests only read. A lost race with
// another write is harmless: that write moved it too.
func (b *BFF) touch(ctx context.Context, s *session, now time.Time) {
	want := minTime(now.Add(b.idle), s.data.AbsoluteExpiry)
	if want.Sub(s.rec.ExpiresAt) < b.idle/10 {
		return
	}
	rec := *s.rec
	rec.ExpiresAt = want
	if b.sessions.Update(ctx, s.hash, &rec) == nil {
		s.rec = &rec
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// refresh refreshes the session's tokens once for all callers: on this
// node, concurrent callers of one session share one call (flight); across
// nodes, the caller that wins a compare-and-set on the session record
// holds a lease and refreshes, and the others use the current token while
// it lasts or wait for the holder's result.
func (b *BFF) refresh(ctx context.Context, hash string) (*session, error) {
	return b.flight.do(hash, func() (*session, error) {
		deadline := b.cfg.now().Add(maxLeaseWait)
		for {
			s, err := b.get(ctx, hash)
			if err != nil {
				return nil, err
			}
			now := b.cfg.now()
			if !b.refreshDue(s.data, now) {
				return s, nil // another node refreshed
			}
			if now.Before(s.data.LeaseUntil) {
				if usable(s.data, now) {
					return s, nil
				}
				if now.After(deadline) {
					return nil, fmt.Errorf("bff: refresh held by another node: %w", store.ErrUnavailable)
				}
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				continue
			}
			s.data.LeaseUntil = now.Add(refreshLease)
			if err := b.write(ctx, s); errors.Is(err, store.ErrConflict) {
				continue
			} else if err != nil {
				return nil, err
			}
			return b.redeem(ctx, s)
		}
	})
}

// redeem runs the refresh of a session whose lease this node holds.
func (b *BFF) redeem(ctx context.Context, s *session) (*session, error) {
	now := b.cfg.now()
	var tok *oauth2.Token
	var err error
	if s.data.RefreshToken == "" {
		err = errors.New("bff: no refresh token")
	} else {
		tok, err = b.oc.Refresh(ctx, s.data.RefreshToken)
	}
	if err != nil {
		var re *client.RetrieveError
		transient := !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode >= 500
		if transient && s.data.RefreshToken != "" && usable(s.data, now) {
			// The provider is unreachable but the token still works:
			// keep the session, drop the lease, try again next time.
			s.data.LeaseUntil = time.Time{}
			b.write(ctx, s)
			b.metrics.Refresh("error")
			return s, nil
		}
		b.log.Info("bff: refresh failed; session ended", "error", err.Error())
		b.metrics.Refresh("failed")
		b.metrics.SessionEnded("refresh_failed")
		b.sessions.Delete(ctx, s.hash)
		return nil, errNoSession
	}
	d := s.data
	d.AccessToken, d.TokenType, d.RefreshToken, d.Expiry = tok.AccessToken, tok.TokenType, tok.RefreshToken, tok.Expiry
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		// OIDC Core §12.2: a refreshed ID token has the same iss and sub
		// and, when the original had none, no nonce to compare.
		if idt, err := b.oc.VerifyIDToken(ctx, raw, ""); err == nil && idt.Subject == s.rec.Subject {
			// Keep the userinfo claims of the login; the new token's win.
			claims := make(map[string]any, len(d.Claims)+len(idt.Claims))
			for k, v := range d.Claims {
				claims[k] = v
			}
			for k, v := range idt.Claims {
				claims[k] = v
			}
			d.IDToken, d.Claims = raw, claims
		}
	}
	d.RefreshedAt, d.LeaseUntil = now, time.Time{}
	if err := b.write(ctx, s); err != nil {
		return nil, err
	}
	b.metrics.Refresh("ok")
	return s, nil
}

// write seals s.data into its record and compare-and-sets it.
func (b *BFF) write(ctx context.Context, s *session) error {
	sealed, err := b.sealer.seal(s.hash, s.data)
	if err != nil {
		return err
	}
	rec := *s.rec
	rec.Data = sealed
	if err := b.sessions.Update(ctx, s.hash, &rec); err != nil {
		return err
	}
	s.rec = &rec
	return nil
}

// create stores a new session for tok and returns its cookie value.
func (b *BFF) create(ctx context.Context, tok *oauth2.Token, idt *client.IDToken) (string, error) {
	now := b.cfg.now()
	d := &sessionData{
		AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry,
		IDToken: idt.Raw, Claims: idt.Claims, RefreshedAt: now, AbsoluteExpiry: now.Add(b.lifetime),
	}
	for range 3 {
		id := newID()
		hash := store.Hash(id)
		sealed, err := b.sealer.seal(hash, d)
		if err != nil {
			return "", err
		}
		rec := &store.WebSession{Subject: idt.Subject, SID: idt.SessionID, Data: sealed, CreatedAt: now, ExpiresAt: minTime(now.Add(b.idle), d.AbsoluteExpiry)}
		err = b.sessions.Create(ctx, hash, rec)
		if errors.Is(err, store.ErrConflict) {
			continue // 256 random bits: never, but never reuse
		}
		if err != nil {
			return "", err
		}
		return id, nil
	}
	return "", errors.New("bff: could not create a session")
}

// flight runs one call per key at a time and shares its result with the
// callers that arrive while it runs.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall // guarded by mu
}

type flightCall struct {
	done    chan struct{}
	waiters int // guarded by flight.mu: callers sharing this call
	s       *session
	err     error
}

func (f *flight) do(key string, fn func() (*session, error)) (*session, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	if c, ok := f.calls[key]; ok {
		c.waiters++
		f.mu.Unlock()
		<-c.done
		return c.copy()
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	c.s, c.err = fn()
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
	return c.copy()
}

// copy gives each waiter its own session value, since callers modify
// records they hold.
func (c *flightCall) copy() (*session, error) {
	if c.err != nil {
		return nil, c.err
	}
	rec, d := *c.s.rec, *c.s.data
	return &session{hash: c.s.hash, rec: &rec, data: &d}, nil
}

// accessToken is the session's token for the proxy and /oauth2/auth.
func (s *session) accessToken() *oauth2.Token { return s.data.token() }

// isDPoP reports whether the session's token is DPoP-bound.
func (s *session) isDPoP() bool { return s.data.TokenType == oauth.TokenTypeDPoP }
