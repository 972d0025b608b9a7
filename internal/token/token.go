package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// Request is a token request, parsed once from the form by the handler so
// no grant reaches into raw parameters.
type Request struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	DeviceCode   string // RFC 8628 §3.4
	Scope        string
	// ScopeSet reports whether the scope parameter was present.
	ScopeSet    bool
	Resource    []string
	Credentials clients.Credentials
	// DPoPProofs are the values of every DPoP header of the request.
	DPoPProofs []string
	// EndpointURL is the configured external URL of the endpoint the
	// request reached (the token endpoint or its mTLS alias): the htu a
	// DPoP proof must name (RFC 9449 §4.3). It never comes from request
	// headers.
	EndpointURL string
}

// Grant is one grant type's checks. It returns what to issue; minting is
// the Service's job so every grant issues tokens the same way.
type Grant interface {
	// Exchange checks req for client c, whose tokens will be bound by cnf.
	Exchange(ctx context.Context, s *Service, c *clients.Client, req *Request, cnf Confirmation) (*Issue, error)
}

// Issue describes the tokens a successful grant produces.
type Issue struct {
	Subject  string
	Scopes   oauth.Scopes
	GrantID  string
	AuthTime time.Time
	Nonce    string
	Audience []string
	// IssueRefresh asks for a new refresh token for GrantID.
	IssueRefresh bool
	// RefreshToken, when set, is returned as is (a non-rotating refresh).
	RefreshToken string
	// RotateFrom is the hash of the refresh token this response replaces.
	RotateFrom string
	// IDToken asks for an ID token (openid scope with a user).
	IDToken bool
	// Cnf is the sender constraint of the access token, set by the
	// Service before the grant runs; a grant may read it (to check a
	// code's dpop_jkt) but not change it.
	Cnf Confirmation
}

// Service issues and checks tokens. Clients, Store, Signer, Keys and Issuer
// are required. It is safe for concurrent use.
type Service struct {
	Clients *clients.Registry
	Store   *store.Store
	Signer  *jose.Signer
	// Keys are the public keys of the server's own signing keys, used to
	// verify access tokens at introspection and userinfo.
	Keys   *jose.KeySet
	Issuer string
	// Token lifetimes; zero means 5 minutes, 5 minutes and 30 days.
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL time.Duration
	Now                                         func() time.Time
	Metrics                                     *telemetry.Metrics
	// Grants maps grant_type to its implementation; nil means
	// DefaultGrants.
	Grants map[string]Grant
	// DPoP verifies DPoP proofs; nil refuses every proof, so only
	// certificate-bound and Bearer tokens can be issued.
	DPoP *dpop.Verifier
	// Audit, when set, records token revocations for the audit log.
	Audit func(ctx context.Context, e *store.AuditEvent)
}

// DefaultGrants are the grant types Bulwark supports. The password grant
// is absent on purpose (FAPI 2.0 SP §5.3.2.1-2, RFC 9700 §2.4).
var DefaultGrants = map[string]Grant{
	oauth.GrantAuthorizationCode: codeGrant{},
	oauth.GrantRefreshToken:      refreshGrant{},
	oauth.GrantClientCredentials: clientCredentialsGrant{},
	oauth.GrantDeviceCode:        deviceGrant{},
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) ttl(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Exchange runs a token request through the fixed phases.
func (s *Service) Exchange(ctx context.Context, req *Request) (*oauth.TokenResponse, error) {
	// Phase 1: the grant type.
	if req.GrantType == "" {
		return nil, oauth.InvalidRequest("grant_type is required")
	}
	grants := s.Grants
	if grants == nil {
		grants = DefaultGrants
	}
	g, ok := grants[req.GrantType]
	if !ok {
		return nil, oauth.New(oauth.ErrUnsupportedGrantType, "grant type not supported")
	}
	// Phase 2: client authentication.
	c, err := s.Clients.Authenticate(ctx, req.Credentials)
	if err != nil {
		var ae *clients.AuthError
		if errors.As(err, &ae) {
			s.Metrics.ClientAuthFailed(ae.Reason)
		}
		return nil, err
	}
	// Phase 3: may this client use this grant?
	if !c.AllowsGrant(req.GrantType) {
		return nil, oauth.New(oauth.ErrUnauthorizedClient, "client may not use this grant type")
	}
	// Phase 4: the sender constraint (DPoP proof or client certificate).
	cnf, err := s.senderConstraint(ctx, c, req)
	if err != nil {
		return nil, err
	}
	// Phase 5: the grant's own checks.
	is, err := g.Exchange(ctx, s, c, req, cnf)
	if err != nil {
		return nil, err
	}
	is.Cnf = cnf
	// Phase 6: mint.
	res, err := s.mint(ctx, c, is)
	if err != nil {
		return nil, err
	}
	s.Metrics.TokenIssued(req.GrantType)
	return res, nil
}

// accessClaims are the claims of a JWT access token (RFC 9068 §2.2).
type accessClaims struct {
	jose.Claims
	ClientID string            `json:"client_id"`
	Scope    string            `json:"scope,omitempty"`
	AuthTime int64             `json:"auth_time,omitempty"`
	GrantID  string            `json:"grant_id,omitempty"`
	Cnf      map[string]string `json:"cnf,omitempty"`
}

type idClaims struct {
	jose.Claims
	AuthTime int64  `json:"auth_time,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	AZP      string `json:"azp,omitempty"`
}

// AccessTokenType is the JWT typ of access tokens (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

func (s *Service) mint(ctx context.Context, c *clients.Client, is *Issue) (*oauth.TokenResponse, error) {
	now := s.now()
	atTTL := s.ttl(s.AccessTokenTTL, 5*time.Minute)
	aud := is.Audience
	if len(aud) == 0 {
		aud = c.Audience
	}
	if len(aud) == 0 {
		aud = []string{s.Issuer}
	}
	at := accessClaims{
		Claims: jose.Claims{
			Issuer: s.Issuer, Subject: is.Subject, Audience: &jose.Audience{Values: aud},
			IssuedAt: jose.NewNumericDate(now), Expiry: jose.NewNumericDate(now.Add(atTTL)),
			ID: randomToken(16),
		},
		ClientID: c.ID, Scope: is.Scopes.String(), GrantID: is.GrantID,
		Cnf: is.Cnf.claim(),
	}
	if !is.AuthTime.IsZero() {
		at.AuthTime = is.AuthTime.Unix()
	}
	access, err := s.Signer.Sign(jose.ES256, AccessTokenType, at)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	res := &oauth.TokenResponse{
		AccessToken: access, TokenType: is.Cnf.tokenType(),
		ExpiresIn: int64(atTTL / time.Second), Scope: is.Scopes.String(),
	}
	if is.IDToken {
		idc := idClaims{
			Claims: jose.Claims{
				Issuer: s.Issuer, Subject: is.Subject, Audience: &jose.Audience{Values: []string{c.ID}},
				IssuedAt: jose.NewNumericDate(now), Expiry: jose.NewNumericDate(now.Add(s.ttl(s.IDTokenTTL, 5*time.Minute))),
			},
			Nonce: is.Nonce, AZP: c.ID,
		}
		if !is.AuthTime.IsZero() {
			idc.AuthTime = is.AuthTime.Unix()
		}
		if res.IDToken, err = s.Signer.Sign(c.IDTokenAlg(), "", idc); err != nil {
			return nil, oauth.ServerError(err)
		}
	}
	switch {
	case is.RefreshToken != "":
		res.RefreshToken = is.RefreshToken
	case is.IssueRefresh:
		rt := randomToken(32)
		rec := &store.RefreshToken{
			GrantID: is.GrantID, ClientID: c.ID, Scopes: is.Scopes.String(),
			CreatedAt: now, ExpiresAt: now.Add(s.ttl(s.RefreshTokenTTL, 30*24*time.Hour)),
		}
		if c.Public() && is.Cnf.JKT != "" {
			// Confidential clients' refresh tokens are bound to client
			// authentication instead, so they may move to a new key.
			if rec.Params, err = json.Marshal(refreshBinding{Cnf: Confirmation{JKT: is.Cnf.JKT}}); err != nil {
				return nil, oauth.ServerError(err)
			}
		}
		if is.RotateFrom != "" {
			err = s.Store.RefreshTokens.Rotate(ctx, is.RotateFrom, now, store.Hash(rt), rec)
			if errors.Is(err, store.ErrReplayed) || errors.Is(err, store.ErrNotFound) {
				// Lost a race with a concurrent refresh of the same token.
				return nil, oauth.InvalidGrant("refresh token already used")
			}
		} else {
			err = s.Store.RefreshTokens.Put(ctx, store.Hash(rt), rec)
		}
		if err != nil {
			return nil, storeError(err)
		}
		res.RefreshToken = rt
	}
	return res, nil
}

func storeError(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return oauth.Unavailable(err)
	}
	return oauth.ServerError(err)
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("token: no randomness: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
