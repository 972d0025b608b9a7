package client

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// ErrIDToken reports an ID token or logout token that failed validation:
// its signature, algorithm, issuer, audience, times, nonce or, for logout
// tokens, the events claim.
var ErrIDToken = errors.New("client: token validation failed")

// idTokenLeeway is the clock skew tolerated on exp and iat of ID and
// logout tokens (FAPI 2.0 SP §5.3.2.1-13 asks for 10 s towards the
// future; exp gets the same).
const idTokenLeeway = 10 * time.Second

// logoutTokenMaxAge bounds how old a logout token's iat may be: the
// replay cache need only remember jti values this long.
const logoutTokenMaxAge = 5 * time.Minute

// jwksMinRefetch spaces JWKS fetches caused by an unknown kid, so tokens
// with made-up kids cannot make the client hammer the server.
const jwksMinRefetch = 10 * time.Second

// IDToken is a validated OpenID Connect ID token.
type IDToken struct {
	// Raw is the compact JWT, for id_token_hint at logout.
	Raw string
	// Subject is the sub claim.
	Subject string
	// SessionID is the sid claim (OIDC Front/Back-Channel Logout), empty
	// when the provider sends none.
	SessionID string
	// Expiry is the exp claim.
	Expiry time.Time
	// Claims holds every claim of the token as decoded JSON.
	Claims map[string]any
}

// LogoutToken is a validated OIDC Back-Channel Logout 1.0 logout token.
type LogoutToken struct {
	// Subject and SessionID name what to log out; at least one is set.
	Subject, SessionID string
	// ID is the jti, which the receiver must use only once.
	ID string
	// Expiry is when the token stops being acceptable: its exp, or iat
	// plus the maximum age; the jti must be remembered until then.
	Expiry time.Time
}

// keyCache holds the issuer's JWKS for ID and logout tokens.
type keyCache struct {
	mu      sync.Mutex
	set     *jose.KeySet // guarded by mu
	fetched time.Time    // guarded by mu
}

// verifyJWT checks raw's algorithm (the FAPI allow-list of
// internal/jose: PS256, ES256, EdDSA), typ when typs is non-nil, and its
// signature against the issuer's JWKS, refetching the set once when no key
// matches (key rotation), and decodes the claims.
func (c *Config) verifyJWT(ctx context.Context, raw string, typs []string, claims any) error {
	t, err := jose.Parse(raw, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	if typs != nil {
		ok := false
		for _, ty := range typs {
			ok = ok || t.Header.Type == ty
		}
		if !ok {
			return fmt.Errorf("%w: typ %q", ErrIDToken, t.Header.Type)
		}
	}
	for attempt := 0; attempt < 2; attempt++ {
		set, err := c.issuerKeys(ctx, attempt > 0)
		if err != nil {
			return err
		}
		_, err = t.VerifySet(set, claims)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jose.ErrNoKey) || attempt > 0 {
			return fmt.Errorf("%w: %w", ErrIDToken, err)
		}
	}
	return fmt.Errorf("%w: no key", ErrIDToken)
}

// issuerKeys returns the cached JWKS, fetching it when there is none or
// when refetch is set and the last fetch is older than jwksMinRefetch.
func (c *Config) issuerKeys(ctx context.Context, refetch bool) (*jose.KeySet, error) {
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	if c.keys.set != nil && (!refetch || c.now().Sub(c.keys.fetched) < jwksMinRefetch) {
		return c.keys.set, nil
	}
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	if md.JWKSURI == "" {
		return nil, fmt.Errorf("%w: no jwks_uri", ErrNotSupported)
	}
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, md.JWKSURI, nil)
	if err != nil {
		return nil, fmt.Errorf("client: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: jwks: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("client: jwks: HTTP %d %v", resp.StatusCode, err)
	}
	set, err := parseIssuerKeys(b)
	if err != nil {
		return nil, err
	}
	c.keys.set, c.keys.fetched = set, c.now()
	return set, nil
}

// parseIssuerKeys reads a provider's JWKS, keeping the keys internal/jose
// accepts: a provider may also publish keys for algorithms outside the
// FAPI allow-list (RS256, say), which must not make the whole set fail.
func parseIssuerKeys(b []byte) (*jose.KeySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("client: jwks: %w", err)
	}
	var keys []*jose.PublicKey
	for _, r := range raw.Keys {
		if k, err := jose.ParsePublicJWK(r); err == nil {
			keys = append(keys, k)
		}
	}
	return jose.NewKeySet(keys...), nil
}

// idTokenClaims are the claims OIDC Core §2 makes ID tokens carry.
type idTokenClaims struct {
	jose.Claims
	Nonce string `json:"nonce"`
	AZP   string `json:"azp"`
	SID   string `json:"sid"`
}

// VerifyIDToken validates an ID token per OpenID Connect Core 1.0 §3.1.3.7
// (https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation):
// algorithm in the FAPI allow-list and signature by the issuer's JWKS;
// iss exactly the issuer; aud containing the client_id, and azp equal to
// it when there are several audiences; exp in the future and iat present;
// sub present; nonce equal to nonce (compared in constant time; an empty
// nonce skips the check, for refreshed ID tokens, which OIDC Core §12.2
// lets carry none).
func (c *Config) VerifyIDToken(ctx context.Context, raw, nonce string) (*IDToken, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	var cl idTokenClaims
	if err := c.verifyJWT(ctx, raw, nil, &cl); err != nil {
		return nil, err
	}
	switch {
	case cl.Issuer != md.Issuer:
		return nil, fmt.Errorf("%w: iss %q", ErrIDToken, cl.Issuer)
	case cl.Audience == nil || !cl.Audience.Contains(c.ClientID):
		return nil, fmt.Errorf("%w: aud does not contain the client_id", ErrIDToken)
	case len(cl.Audience.Values) > 1 && cl.AZP != c.ClientID:
		return nil, fmt.Errorf("%w: several audiences and azp is not the client_id", ErrIDToken)
	case cl.AZP != "" && cl.AZP != c.ClientID:
		return nil, fmt.Errorf("%w: azp %q", ErrIDToken, cl.AZP)
	case cl.Subject == "":
		return nil, fmt.Errorf("%w: no sub", ErrIDToken)
	case nonce != "" && subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(nonce)) != 1:
		return nil, fmt.Errorf("%w: nonce does not match", ErrIDToken)
	}
	if err := cl.ValidateTimes(c.now(), jose.TimeRules{RequireExp: true, RequireIat: true, FutureSkew: idTokenLeeway, ExpLeeway: idTokenLeeway}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	var all map[string]any
	if err := json.Unmarshal(jwtPayload(raw), &all); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrIDToken, err)
	}
	return &IDToken{Raw: raw, Subject: cl.Subject, SessionID: cl.SID, Expiry: cl.Expiry.Time(), Claims: all}, nil
}

// backchannelLogoutEvent is the member of a logout token's events claim
// (OIDC Back-Channel Logout 1.0 §2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

type logoutTokenClaims struct {
	jose.Claims
	SID    string                     `json:"sid"`
	Events map[string]json.RawMessage `json:"events"`
	Nonce  *json.RawMessage           `json:"nonce"`
}

// VerifyLogoutToken validates a back-channel logout token per OIDC
// Back-Channel Logout 1.0 §2.6
// (https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation):
// typ logout+jwt (or none), algorithm and signature as for ID tokens, iss
// exactly the issuer, aud containing the client_id, iat present and not
// older than 5 minutes, exp (when present) not passed, a jti, sub or sid
// present, an events claim with the back-channel logout member holding a
// JSON object, and no nonce ("to prevent abuse of ID Tokens as Logout
// Tokens"). The caller must then use the jti only once, until Expiry.
func (c *Config) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	var cl logoutTokenClaims
	if err := c.verifyJWT(ctx, raw, []string{"logout+jwt", ""}, &cl); err != nil {
		return nil, err
	}
	if err := cl.check(md.Issuer, c.ClientID, c.now()); err != nil {
		return nil, err
	}
	exp := cl.IssuedAt.Time().Add(logoutTokenMaxAge + idTokenLeeway)
	if cl.Expiry != nil && cl.Expiry.Time().Before(exp) {
		exp = cl.Expiry.Time().Add(idTokenLeeway)
	}
	return &LogoutToken{Subject: cl.Subject, SessionID: cl.SID, ID: cl.ID, Expiry: exp}, nil
}

// check applies the claim rules of VerifyLogoutToken.
func (cl *logoutTokenClaims) check(issuer, clientID string, now time.Time) error {
	switch {
	case cl.Issuer != issuer:
		return fmt.Errorf("%w: iss %q", ErrIDToken, cl.Issuer)
	case cl.Audience == nil || !cl.Audience.Contains(clientID):
		return fmt.Errorf("%w: aud does not contain the client_id", ErrIDToken)
	case cl.ID == "":
		return fmt.Errorf("%w: no jti", ErrIDToken)
	case cl.Subject == "" && cl.SID == "":
		return fmt.Errorf("%w: neither sub nor sid", ErrIDToken)
	case cl.Nonce != nil:
		return fmt.Errorf("%w: a logout token must not carry a nonce", ErrIDToken)
	}
	ev, ok := cl.Events[backchannelLogoutEvent]
	var obj map[string]any
	if !ok || json.Unmarshal(ev, &obj) != nil || obj == nil {
		return fmt.Errorf("%w: events has no back-channel logout member", ErrIDToken)
	}
	if err := cl.ValidateTimes(now, jose.TimeRules{RequireIat: true, FutureSkew: idTokenLeeway, ExpLeeway: idTokenLeeway, MaxAge: logoutTokenMaxAge}); err != nil {
		return fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	return nil
}

// jwtPayload returns the decoded payload of a compact JWS already
// verified by verifyJWT.
func jwtPayload(raw string) []byte {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return b
}
