package token

import (
	"context"
	"errors"
	"slices"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Introspection is the RFC 7662 §2.2 response. Only Active is set for an
// inactive token.
type Introspection struct {
	Active    bool              `json:"active"`
	Scope     string            `json:"scope,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	Subject   string            `json:"sub,omitempty"`
	TokenType string            `json:"token_type,omitempty"`
	Exp       int64             `json:"exp,omitempty"`
	Iat       int64             `json:"iat,omitempty"`
	Issuer    string            `json:"iss,omitempty"`
	Audience  []string          `json:"aud,omitempty"`
	JTI       string            `json:"jti,omitempty"`
	AuthTime  int64             `json:"auth_time,omitempty"`
	Cnf       map[string]string `json:"cnf,omitempty"`
}

// Introspect answers an RFC 7662 request. The caller must authenticate
// (RFC 7662 §2.1). It learns about a token only if the token was issued to
// it or names it as audience; anything else is reported inactive, so the
// endpoint cannot be used to probe other clients' tokens.
func (s *Service) Introspect(ctx context.Context, creds clients.Credentials, tok, hint string) (*Introspection, error) {
	caller, err := s.Clients.Authenticate(ctx, creds)
	if err != nil {
		var ae *clients.AuthError
		if errors.As(err, &ae) {
			s.Metrics.ClientAuthFailed(ae.Reason)
		}
		return nil, err
	}
	if caller.Public() {
		return nil, oauth.InvalidClient("public clients cannot introspect")
	}
	if tok == "" {
		return nil, oauth.InvalidRequest("token is required")
	}
	inactive := &Introspection{}
	if c, err := s.verifyAccess(ctx, tok); err == nil {
		aud := c.Audience.Values
		if c.ClientID != caller.ID && !slices.Contains(aud, caller.ID) {
			return inactive, nil
		}
		out := &Introspection{
			Active: true, Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject,
			TokenType: confirmationOf(c.Cnf).tokenType(), Exp: int64(*c.Expiry), Issuer: c.Issuer,
			Audience: aud, JTI: c.ID, AuthTime: c.AuthTime, Cnf: c.Cnf,
		}
		if c.IssuedAt != nil {
			out.Iat = int64(*c.IssuedAt)
		}
		return out, nil
	} else if !errors.Is(err, errInactive) {
		return nil, oauth.Unavailable(err)
	}
	rt, g, err := s.activeRefresh(ctx, tok)
	if err != nil {
		if errors.Is(err, errInactive) {
			return inactive, nil
		}
		return nil, oauth.Unavailable(err)
	}
	if rt.ClientID != caller.ID {
		return inactive, nil
	}
	return &Introspection{
		Active: true, Scope: rt.Scopes, ClientID: rt.ClientID, Subject: g.Subject,
		TokenType: oauth.HintRefreshToken, Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(),
		Issuer: s.Issuer,
	}, nil
}

// activeRefresh returns a refresh token and its grant if both are active.
// A rotated token is inactive here even inside its reuse grace window.
func (s *Service) activeRefresh(ctx context.Context, tok string) (*store.RefreshToken, *store.Grant, error) {
	if len(tok) > 128 {
		return nil, nil, errInactive
	}
	rt, err := s.Store.RefreshTokens.Get(ctx, store.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errInactive
	}
	if err != nil {
		return nil, nil, err
	}
	if rt.RotatedAt != nil {
		return nil, nil, errInactive
	}
	g, err := s.Store.Grants.Get(ctx, rt.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errInactive
	}
	if err != nil {
		return nil, nil, err
	}
	if g.Revoked || !s.now().Before(g.ExpiresAt) {
		return nil, nil, errInactive
	}
	return rt, g, nil
}
