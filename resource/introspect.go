package resource

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// DefaultIntrospectionCacheTTL is how long an introspection answer is
// reused when Introspection.CacheTTL is zero. It bounds how long a revoked
// token keeps working here.
const DefaultIntrospectionCacheTTL = 30 * time.Second

// DefaultIntrospectionCacheEntries bounds the cache when
// Introspection.MaxCacheEntries is zero.
const DefaultIntrospectionCacheEntries = 10_000

// Media types of RFC 9701.
const (
	// IntrospectionJWTType is the media type of a signed introspection
	// response (RFC 9701 §4), sent in Accept and expected as Content-Type.
	IntrospectionJWTType = "application/token-introspection+jwt"
	introspectionJWTTyp  = "token-introspection+jwt"
)

// Introspection configures token introspection (RFC 7662) at the issuer.
// The resource server authenticates as a client of the issuer with
// client_secret_basic (ClientSecret) or private_key_jwt (Signer); exactly
// one must be set.
type Introspection struct {
	// Endpoint is the introspection endpoint. Empty means the
	// introspection_endpoint of the issuer's metadata.
	Endpoint string
	// ClientID is the resource server's client identifier at the issuer.
	// Required. A signed response's aud must name it.
	ClientID string
	// ClientSecret authenticates with client_secret_basic (RFC 6749
	// §2.3.1).
	ClientSecret string
	// Signer authenticates with private_key_jwt (RFC 7523, OpenID Connect
	// Core §9): an ECDSA P-256 (ES256), RSA ≥ 2048 bits (PS256) or
	// Ed25519 (EdDSA) key, in memory or in an HSM or KMS. Each request
	// gets a fresh assertion (aud = the issuer, 60 s lifetime, random
	// jti).
	Signer crypto.Signer
	// KeyID, when set, is the assertion's kid header.
	KeyID string
	// SignedResponse asks for, and then requires, an RFC 9701 signed
	// response (Accept: application/token-introspection+jwt), verified
	// with the issuer's JWKS: typ token-introspection+jwt, iss the issuer,
	// aud ClientID. A plain JSON answer is then refused.
	SignedResponse bool
	// IntrospectJWT also sends JWT access tokens, once they pass the local
	// checks, to introspection, so a revoked JWT is refused within
	// CacheTTL. False trusts a valid JWT until its exp.
	IntrospectJWT bool
	// CacheTTL is how long an answer (active or not) is reused; an active
	// answer never outlives the token's exp. Zero means
	// DefaultIntrospectionCacheTTL; negative disables the cache.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache. Zero means
	// DefaultIntrospectionCacheEntries.
	MaxCacheEntries int
}

// introspector calls the introspection endpoint and caches answers. It is
// safe for concurrent use; concurrent misses for one token may each call
// the endpoint.
type introspector struct {
	cfg  Introspection // a copy, so later edits have no effect
	v    *Verifier
	keys *keyCache
	key  *jose.PrivateKey // the private_key_jwt key, nil for a secret

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached // guarded by mu
}

// cached is one introspection answer. claims is nil for an inactive
// token.
type cached struct {
	claims map[string]any
	until  time.Time
}

func (in *Introspection) newIntrospector(v *Verifier, keys *keyCache) (*introspector, error) {
	it := &introspector{cfg: *in, v: v, keys: keys, cache: map[[sha256.Size]byte]cached{}}
	switch {
	case in.ClientID == "":
		return it, errors.New("Introspection.ClientID is empty")
	case (in.ClientSecret == "") == (in.Signer == nil):
		return it, errors.New("Introspection needs exactly one of ClientSecret and Signer")
	case in.Signer != nil:
		k, err := jose.NewExternalKey(in.Signer, "", in.KeyID)
		if err != nil {
			return it, fmt.Errorf("Introspection.Signer: %w", err)
		}
		it.key = k
	}
	if in.Endpoint != "" {
		if u, err := url.Parse(in.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return it, fmt.Errorf("Introspection.Endpoint %q is not an absolute URL", in.Endpoint)
		}
	}
	return it, nil
}

// introspect returns the claims of an active token, or the *Error to send:
// 401 invalid_token when the issuer says it is not active, 503 when the
// issuer cannot be asked (fail closed: a token whose revocation cannot be
// checked is not accepted).
func (in *introspector) introspect(ctx context.Context, a authorization) (map[string]any, *Error) {
	v := in.v
	key := sha256.Sum256([]byte(a.token))
	now := v.now()
	in.mu.Lock()
	c, hit := in.cache[key]
	in.mu.Unlock()
	if !hit || !now.Before(c.until) {
		claims, err := in.call(ctx, a.token)
		if err != nil {
			return nil, v.refuse(http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "token introspection is unavailable; retry later", ReasonUnavailable, "", err)
		}
		c = cached{claims: claims, until: now.Add(in.ttl())}
		if claims != nil {
			// The answer must not outlive the token.
			if exp, present, ok := numericDate(claims["exp"]); present && ok && exp.Before(c.until) {
				c.until = exp
			}
		}
		in.store(key, c, now)
	}
	if c.claims == nil {
		return nil, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is not active", ReasonInactive, a.scheme, nil)
	}
	return c.claims, nil
}

func (in *introspector) ttl() time.Duration {
	switch {
	case in.cfg.CacheTTL < 0:
		return 0
	case in.cfg.CacheTTL == 0:
		return DefaultIntrospectionCacheTTL
	}
	return in.cfg.CacheTTL
}

// store caches c unless caching is off, evicting expired entries, and
// then arbitrary ones, when the cache is full.
func (in *introspector) store(key [sha256.Size]byte, c cached, now time.Time) {
	if !now.Before(c.until) {
		return
	}
	max := in.cfg.MaxCacheEntries
	if max <= 0 {
		max = DefaultIntrospectionCacheEntries
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.cache) >= max {
		for k, e := range in.cache {
			if !now.Before(e.until) {
				delete(in.cache, k)
			}
		}
		for k := range in.cache {
			if len(in.cache) < max {
				break
			}
			delete(in.cache, k)
		}
	}
	in.cache[key] = c
}

// call asks the endpoint about token. It returns the claims of an active
// token, nil claims for an inactive one, or an error when there is no
// trustworthy answer.
func (in *introspector) call(ctx context.Context, token string) (map[string]any, error) {
	v := in.v
	endpoint := in.cfg.Endpoint
	if endpoint == "" {
		md, err := in.keys.metadata(ctx)
		if err != nil {
			return nil, err
		}
		if md.IntrospectionEndpoint == "" {
			return nil, errors.New("resource: the issuer's metadata has no introspection_endpoint")
		}
		endpoint = md.IntrospectionEndpoint
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if in.key != nil {
		assertion, err := in.assertion()
		if err != nil {
			return nil, err
		}
		form.Set("client_id", in.cfg.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if in.cfg.ClientSecret != "" {
		// RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
		req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	}
	if in.cfg.SignedResponse {
		req.Header.Set("Accept", IntrospectionJWTType)
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := v.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("resource: introspection: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("resource: introspection: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("resource: introspection: HTTP %d", resp.StatusCode)
	}
	if len(body) > maxDocumentSize {
		return nil, errors.New("resource: introspection response too large")
	}
	var m map[string]any
	if in.cfg.SignedResponse {
		if m, err = in.verifySigned(ctx, resp.Header.Get("Content-Type"), body); err != nil {
			return nil, err
		}
	} else if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fmt.Errorf("resource: introspection response is not a JSON object: %v", err)
	}
	// RFC 7662 §2.2: active is REQUIRED; anything but true is inactive.
	if active, _ := m["active"].(bool); !active {
		return nil, nil
	}
	return m, nil
}

// verifySigned checks an RFC 9701 response and returns its
// token_introspection member. RFC 9701 §5: the response is a JWT with typ
// token-introspection+jwt, iss the authorization server, aud the resource
// server; FAPI 2.0 Message Signing §5.5.2 makes the resource server
// verify it.
func (in *introspector) verifySigned(ctx context.Context, contentType string, body []byte) (map[string]any, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || !strings.EqualFold(mt, IntrospectionJWTType) {
		return nil, fmt.Errorf("resource: introspection answered %q, not %s", contentType, IntrospectionJWTType)
	}
	t, err := jose.Parse(strings.TrimSpace(string(body)), nil)
	if err != nil {
		return nil, fmt.Errorf("resource: signed introspection response: %w", err)
	}
	if !mediaTypeIs(t.Header.Type, introspectionJWTTyp) {
		return nil, fmt.Errorf("resource: signed introspection response has typ %q", t.Header.Type)
	}
	var claims struct {
		Issuer   string          `json:"iss"`
		Audience any             `json:"aud"`
		IssuedAt *float64        `json:"iat"`
		Result   json.RawMessage `json:"token_introspection"`
	}
	if _, err := in.keys.verifyJWT(ctx, t, &claims); err != nil {
		return nil, fmt.Errorf("resource: signed introspection response: %w", err)
	}
	aud, _ := audience(claims.Audience)
	switch {
	case claims.Issuer != in.v.Issuer:
		return nil, fmt.Errorf("resource: signed introspection response from issuer %q", claims.Issuer)
	case !containsString(aud, in.cfg.ClientID):
		return nil, errors.New("resource: signed introspection response is for another audience")
	case claims.IssuedAt == nil:
		return nil, errors.New("resource: signed introspection response has no iat")
	case jose.NumericDate(*claims.IssuedAt).Time().After(in.v.now().Add(in.v.leeway())):
		return nil, errors.New("resource: signed introspection response iat is in the future")
	}
	var m map[string]any
	if err := json.Unmarshal(claims.Result, &m); err != nil || m == nil {
		return nil, errors.New("resource: signed introspection response has no token_introspection object")
	}
	return m, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// assertion returns a fresh private_key_jwt client assertion (RFC 7523
// §3). aud is the issuer identifier, as FAPI 2.0 SP §5.3.2.1-8 requires.
func (in *introspector) assertion() (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := in.v.now()
	return jose.SignWithKey(in.key, "", false, map[string]any{
		"iss": in.cfg.ClientID,
		"sub": in.cfg.ClientID,
		"aud": in.v.Issuer,
		"iat": now.Unix(),
		"exp": now.Add(60 * time.Second).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
	})
}
