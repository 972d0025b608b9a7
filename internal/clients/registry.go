package clients

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Registry loads clients from the store and authenticates them. It is safe
// for concurrent use. Parsed clients are cached for CacheTTL so the token
// endpoint does not re-parse metadata on every request; a change made
// through the store is seen within that bound.
type Registry struct {
	// Store holds the registrations. Required.
	Store store.Clients
	// Replay guards client assertion jti values. Required.
	Replay store.Replay
	// Secrets verifies client secrets. Required when any client uses a
	// secret method.
	Secrets *secret.Verifier
	// HTTPClient fetches jwks_uri documents; nil means a client with a 5 s
	// timeout.
	HTTPClient *http.Client
	// Issuer is the authorization server's issuer identifier.
	Issuer string
	// EndpointURLs are the token, PAR and device authorization endpoint
	// URLs, accepted as an assertion aud for profiles that allow it.
	EndpointURLs []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheTTL bounds how long a parsed client is reused; 0 means 5 s.
	CacheTTL time.Duration
	// JWKSCacheTTL is how long a fetched jwks_uri document is used; 0
	// means 5 minutes. An unknown kid triggers an early refetch, at most
	// once per JWKSMinRefresh (0: 10 s).
	JWKSCacheTTL   time.Duration
	JWKSMinRefresh time.Duration
	// FutureSkew is how far an assertion's iat/nbf may lie in the future;
	// 0 means 10 s.
	FutureSkew time.Duration
	// ClientCAs are the roots tls_client_auth certificates must chain to;
	// nil trusts none, so tls_client_auth always fails.
	ClientCAs *x509.CertPool
	// OnFailure, when set, is told of every failed client authentication
	// with the client_id the request claimed (unverified, possibly empty)
	// and the failure reason (the Reason… constants), for the audit log.
	// It must not block.
	OnFailure func(ctx context.Context, claimedID, reason string)

	mu sync.Mutex
	// cache and remote are guarded by mu.
	cache  map[string]cachedClient
	remote map[string]*remoteKeys
}

type cachedClient struct {
	c   *Client
	exp time.Time
}

type remoteKeys struct {
	keys      *jose.KeySet
	fetchedAt time.Time
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// ErrUnknownClient is returned by Get for a client that is not registered.
var ErrUnknownClient = errors.New("clients: unknown client")

// Get returns the registered client with id.
func (r *Registry) Get(ctx context.Context, id string) (*Client, error) {
	now := r.now()
	r.mu.Lock()
	if cc, ok := r.cache[id]; ok && now.Before(cc.exp) {
		r.mu.Unlock()
		return cc.c, nil
	}
	r.mu.Unlock()
	rec, err := r.Store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownClient
	}
	if err != nil {
		return nil, fmt.Errorf("clients: load %s: %w", id, err)
	}
	c, err := FromRecord(rec)
	if err != nil {
		return nil, err
	}
	ttl := r.CacheTTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]cachedClient{}
	}
	r.cache[id] = cachedClient{c: c, exp: now.Add(ttl)}
	r.mu.Unlock()
	return c, nil
}

// FromRecord decodes and validates a stored registration.
func FromRecord(rec *store.Client) (*Client, error) {
	var c Client
	if err := json.Unmarshal(rec.Metadata, &c); err != nil {
		return nil, fmt.Errorf("clients: decode %s: %w", rec.ID, err)
	}
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("clients: stored client %s is invalid: %v", rec.ID, errs[0])
	}
	c.secretHash = rec.SecretHash
	return &c, nil
}

// MinSecretLen is the shortest client_secret accepted anywhere
// (configuration, admin API, registration).
const MinSecretLen = 16

// UsesSecret reports whether the client authenticates with a
// client_secret.
func (c *Client) UsesSecret() bool {
	return c.AuthMethod == oauth.AuthClientSecretBasic || c.AuthMethod == oauth.AuthClientSecretPost
}

// Check is the one validation of a client registration, whoever makes
// it: static configuration, the admin API and Dynamic Client
// Registration all call it. It runs Validate (the profile rules) and adds
// the secret rules: a secret method needs a secret of at least
// MinSecretLen characters, and any other method must have none, since a
// stray secret means the registrant expects an authentication the client
// does not have. Like Validate it fills in defaults on c.
func Check(c *Client, secretValue string) []FieldError {
	errs := c.Validate()
	switch {
	case c.UsesSecret() && secretValue == "":
		errs = append(errs, FieldError{"client_secret", "required for " + c.AuthMethod})
	case c.UsesSecret() && len(secretValue) < MinSecretLen:
		errs = append(errs, FieldError{"client_secret", fmt.Sprintf("must be at least %d characters", MinSecretLen)})
	case !c.UsesSecret() && secretValue != "":
		errs = append(errs, FieldError{"client_secret", fmt.Sprintf("must not be set for token_endpoint_auth_method %q", c.AuthMethod)})
	}
	return errs
}

// Register checks c with Check, hashes secretValue (for secret methods)
// with argon2id and stores the client. The plaintext secret is not kept.
func (r *Registry) Register(ctx context.Context, c *Client, secretValue string, p secret.Params) error {
	if errs := Check(c, secretValue); len(errs) > 0 {
		return fmt.Errorf("clients: %s: %w", c.ID, errors.Join(asErrors(errs)...))
	}
	rec := &store.Client{ID: c.ID}
	if c.UsesSecret() {
		h, err := secret.Hash(secretValue, p)
		if err != nil {
			return err
		}
		rec.SecretHash = h
	}
	return r.Save(ctx, c, rec)
}

// Save stores c, already checked by the caller, with the hashes in rec
// (SecretHash, RegistrationHash; rec.ID and Metadata are set from c,
// UpdatedAt from the clock), and drops c from this registry's cache so
// the change is seen at once here and within CacheTTL on other nodes.
func (r *Registry) Save(ctx context.Context, c *Client, rec *store.Client) error {
	md, err := json.Marshal(c)
	if err != nil {
		return err
	}
	rec.ID, rec.Metadata, rec.UpdatedAt = c.ID, md, r.now()
	if err := r.Store.Put(ctx, rec); err != nil {
		return fmt.Errorf("clients: store %s: %w", c.ID, err)
	}
	r.Forget(c.ID)
	return nil
}

// Delete removes the client's registration and drops it from the cache.
// Its grants and consents are the caller's to revoke.
func (r *Registry) Delete(ctx context.Context, id string) error {
	if err := r.Store.Delete(ctx, id); err != nil {
		return fmt.Errorf("clients: delete %s: %w", id, err)
	}
	r.Forget(id)
	return nil
}

// Forget drops id from the cache of parsed clients.
func (r *Registry) Forget(id string) {
	r.mu.Lock()
	delete(r.cache, id)
	r.mu.Unlock()
}

func asErrors(fe []FieldError) []error {
	out := make([]error, len(fe))
	for i, e := range fe {
		out[i] = e
	}
	return out
}

// keySet returns the client's verification keys, fetching jwks_uri when
// needed. refresh forces a refetch (rate-limited) after an unknown kid.
func (r *Registry) keySet(ctx context.Context, c *Client, refresh bool) (*jose.KeySet, error) {
	if c.keys != nil {
		return c.keys, nil
	}
	if c.JWKSURI == "" {
		return nil, errors.New("clients: no keys registered")
	}
	ttl, minRefresh := r.JWKSCacheTTL, r.JWKSMinRefresh
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if minRefresh == 0 {
		minRefresh = 10 * time.Second
	}
	now := r.now()
	r.mu.Lock()
	rk := r.remote[c.JWKSURI]
	r.mu.Unlock()
	if rk != nil {
		age := now.Sub(rk.fetchedAt)
		if age < ttl && (!refresh || age < minRefresh) {
			return rk.keys, nil
		}
	}
	ks, err := r.fetchJWKS(ctx, c.JWKSURI)
	if err != nil {
		if rk != nil {
			// Keep using the last good set while the client's
			// endpoint is down; its keys were valid when fetched.
			return rk.keys, nil
		}
		return nil, err
	}
	r.mu.Lock()
	if r.remote == nil {
		r.remote = map[string]*remoteKeys{}
	}
	r.remote[c.JWKSURI] = &remoteKeys{keys: ks, fetchedAt: now}
	r.mu.Unlock()
	return ks, nil
}

const maxJWKSBytes = 64 << 10

func (r *Registry) fetchJWKS(ctx context.Context, uri string) (*jose.KeySet, error) {
	hc := r.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("clients: jwks_uri: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("clients: fetch jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("clients: fetch jwks_uri: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("clients: read jwks_uri: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("clients: jwks_uri document too large")
	}
	return jose.ParseKeySet(body)
}
