package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// maxDocumentSize bounds metadata, JWKS and introspection responses.
const maxDocumentSize = 1 << 20

// fetchTimeout bounds one discovery-and-JWKS fetch, whatever the caller's
// context says: the fetch serves every waiting request, not just the one
// that started it.
const fetchTimeout = 10 * time.Second

// metadata is the part of the issuer's RFC 8414 metadata the Verifier uses.
type metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// errNoKeys reports that no key set could be fetched yet.
var errNoKeys = errors.New("resource: issuer keys unavailable")

// keyCache holds the issuer's metadata and JWKS. Fetches are serialised by
// mu and spaced at least JWKSRefreshInterval apart, successful or not, so
// neither tokens with made-up kids nor an authorization server outage turn
// into a flood of requests to it.
type keyCache struct {
	v *Verifier

	mu        sync.Mutex
	md        *metadata    // guarded by mu; nil until discovered
	keys      *jose.KeySet // guarded by mu; nil until fetched
	fetchedAt time.Time    // guarded by mu: last successful JWKS fetch
	triedAt   time.Time    // guarded by mu: last fetch attempt
	lastErr   error        // guarded by mu: the last fetch failure
	gen       int          // guarded by mu: successful JWKS fetches so far

	// snap mirrors keys, fetchedAt and triedAt for the lock-free fast
	// path, so requests with known keys never wait behind a fetch (which
	// a token with a made-up kid can start). Written under mu.
	snap atomic.Pointer[keySnapshot]
}

// keySnapshot is an immutable copy of the cache's state.
type keySnapshot struct {
	keys               *jose.KeySet
	fetchedAt, triedAt time.Time
}

func (c *keyCache) publishLocked() {
	c.snap.Store(&keySnapshot{keys: c.keys, fetchedAt: c.fetchedAt, triedAt: c.triedAt})
}

// current returns the key set, fetching it when there is none yet or it
// is older than JWKSMaxAge (and the refresh interval allows).
func (c *keyCache) current(ctx context.Context) (*jose.KeySet, error) {
	now := c.v.now()
	if s := c.snap.Load(); s != nil && s.keys != nil &&
		(now.Sub(s.fetchedAt) < c.maxAge() || now.Sub(s.triedAt) < c.interval()) {
		return s.keys, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != nil && now.Sub(c.fetchedAt) < c.maxAge() {
		return c.keys, nil
	}
	c.fetchLocked(ctx, now)
	if c.keys != nil {
		// Stale keys are still used when a refresh fails (documented on
		// Verifier.JWKSMaxAge).
		return c.keys, nil
	}
	return nil, c.lastErr
}

// refresh fetches the key set again because a token named a key it does
// not hold, unless the last fetch was less than JWKSRefreshInterval ago.
// It returns the set to use and whether it is new.
func (c *keyCache) refresh(ctx context.Context) (*jose.KeySet, bool) {
	if s := c.snap.Load(); s != nil && c.v.now().Sub(s.triedAt) < c.interval() {
		return s.keys, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.gen
	c.fetchLocked(ctx, c.v.now())
	return c.keys, c.gen != before
}

// metadata returns the discovered metadata, discovering it if needed.
func (c *keyCache) metadata(ctx context.Context) (*metadata, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.md == nil {
		c.fetchLocked(ctx, c.v.now())
	}
	if c.md == nil {
		return nil, c.lastErr
	}
	return c.md, nil
}

// fetchLocked discovers the metadata (once) and fetches the JWKS, unless
// the last attempt was less than the refresh interval ago. c.mu is held.
func (c *keyCache) fetchLocked(ctx context.Context, now time.Time) {
	if !c.triedAt.IsZero() && now.Sub(c.triedAt) < c.interval() {
		if c.lastErr == nil && c.keys == nil {
			c.lastErr = errNoKeys
		}
		return
	}
	c.triedAt = now
	c.publishLocked()
	defer c.publishLocked()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	if c.md == nil {
		md, err := c.discover(ctx)
		if err != nil {
			c.lastErr = err
			return
		}
		c.md = md
	}
	body, err := c.get(ctx, c.md.JWKSURI)
	if err != nil {
		c.lastErr = fmt.Errorf("resource: fetch JWKS: %w", err)
		return
	}
	ks, err := jose.ParseKeySet(body)
	if err != nil {
		c.lastErr = fmt.Errorf("resource: JWKS of %s: %w", c.v.Issuer, err)
		return
	}
	c.keys, c.fetchedAt, c.lastErr = ks, now, nil
	c.gen++
}

// discover fetches the issuer's metadata: RFC 8414 §3.1 first (the
// well-known segment between host and path), then OpenID Connect
// Discovery 1.0 §4. RFC 8414 §3.3: "The issuer value returned MUST be
// identical to the authorization server's issuer identifier value into
// which the well-known URI string was inserted to create the URL used to
// retrieve the metadata. If these values are not identical, the data
// contained in the response MUST NOT be used."
// (https://www.rfc-editor.org/rfc/rfc8414.html#section-3.3)
func (c *keyCache) discover(ctx context.Context) (*metadata, error) {
	iss, err := url.Parse(c.v.Issuer)
	if err != nil || iss.Scheme == "" || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" {
		return nil, fmt.Errorf("resource: issuer %q is not a URL without query or fragment", c.v.Issuer)
	}
	path := strings.TrimSuffix(iss.EscapedPath(), "/")
	urls := []string{
		iss.Scheme + "://" + iss.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(c.v.Issuer, "/") + "/.well-known/openid-configuration",
	}
	var errs []error
	for _, u := range urls {
		body, err := c.get(ctx, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var md metadata
		if err := json.Unmarshal(body, &md); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		if md.Issuer != c.v.Issuer {
			// Not a fallback case: a server answering for another issuer
			// is refused outright.
			return nil, fmt.Errorf("resource: metadata at %s names issuer %q, want %q", u, md.Issuer, c.v.Issuer)
		}
		if md.JWKSURI == "" {
			return nil, fmt.Errorf("resource: metadata at %s has no jwks_uri", u)
		}
		if ju, err := url.Parse(md.JWKSURI); err != nil || ju.Scheme != iss.Scheme || ju.Host == "" {
			return nil, fmt.Errorf("resource: metadata at %s has an unusable jwks_uri", u)
		}
		return &md, nil
	}
	return nil, fmt.Errorf("resource: discover %s: %w", c.v.Issuer, errors.Join(errs...))
}

// get fetches u and returns its body, which must come with 200 OK.
func (c *keyCache) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.v.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("%s: response larger than %d bytes", u, maxDocumentSize)
	}
	return body, nil
}

func (c *keyCache) interval() time.Duration {
	if c.v.JWKSRefreshInterval > 0 {
		return c.v.JWKSRefreshInterval
	}
	return DefaultJWKSRefreshInterval
}

func (c *keyCache) maxAge() time.Duration {
	if c.v.JWKSMaxAge > 0 {
		return c.v.JWKSMaxAge
	}
	return DefaultJWKSMaxAge
}

// verifyJWT checks the signature of t with the issuer's keys, fetching
// them again once when t names a key the set lacks (key rotation), within
// the refresh bound. claims receives the verified payload. A nil error
// means the signature is good; errNoKeys-wrapping errors mean the keys
// could not be had.
// It returns the key set that verified t.
func (c *keyCache) verifyJWT(ctx context.Context, t *jose.JWT, claims any) (*jose.KeySet, error) {
	ks, err := c.current(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoKeys, err)
	}
	if len(ks.Candidates(t.Header.KeyID, t.Header.Algorithm)) == 0 {
		if fresh, ok := c.refresh(ctx); ok {
			ks = fresh
		}
	}
	if _, err := t.VerifySet(ks, claims); err != nil {
		return nil, err
	}
	return ks, nil
}

// cachedKeys is the key set in use now, without fetching: nil before the
// first fetch or once it is older than JWKSMaxAge, so a verified-token
// entry is never used past the point where the keys would be fetched.
func (c *keyCache) cachedKeys() *jose.KeySet {
	s := c.snap.Load()
	if s == nil || c.v.now().Sub(s.fetchedAt) >= c.maxAge() {
		return nil
	}
	return s.keys
}
