package token

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// refreshGrant exchanges a refresh token (RFC 6749 §6). Whether it rotates
// is the client profile's RotateRefreshTokens: FAPI 2.0 SP §5.3.2.1-9
// forbids rotation; RFC 9700 §4.14.2 recommends it for public clients.
type refreshGrant struct{}

func (refreshGrant) Exchange(ctx context.Context, s *Service, c *clients.Client, req *Request, cnf Confirmation) (*Issue, error) {
	if req.RefreshToken == "" {
		return nil, oauth.InvalidRequest("refresh_token is required")
	}
	if len(req.RefreshToken) > 128 {
		return nil, oauth.InvalidGrant("invalid refresh token")
	}
	hash := store.Hash(req.RefreshToken)
	rt, err := s.Store.RefreshTokens.Get(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidGrant("invalid or expired refresh token")
	}
	if err != nil {
		return nil, storeError(err)
	}
	// RFC 6749 §6: the refresh token is bound to the client it was issued to.
	if rt.ClientID != c.ID {
		return nil, oauth.InvalidGrant("refresh token was issued to another client")
	}
	bound, err := decodeRefreshBinding(rt.Params)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	// RFC 9449 §5: a public client's refresh token is bound to its DPoP
	// key; only a proof of that key may use it.
	if bound.JKT != "" && subtle.ConstantTimeCompare([]byte(bound.JKT), []byte(cnf.JKT)) != 1 {
		return nil, oauth.New(oauth.ErrInvalidDPoPProof, "the refresh token is bound to another DPoP key")
	}
	g, err := s.Store.Grants.Get(ctx, rt.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidGrant("grant no longer exists")
	}
	if err != nil {
		return nil, storeError(err)
	}
	now := s.now()
	if g.Revoked || !now.Before(g.ExpiresAt) {
		return nil, oauth.InvalidGrant("grant revoked or expired")
	}
	p := c.Profile()
	if rt.RotatedAt != nil && now.Sub(*rt.RotatedAt) > p.RefreshReuseGrace {
		// RFC 9700 §4.14.2: reuse of a rotated refresh token means one of
		// two parties holds a stolen token; revoke the whole grant.
		if err := s.Store.Grants.Revoke(ctx, g.ID); err != nil {
			return nil, storeError(err)
		}
		return nil, oauth.InvalidGrant("refresh token reuse detected; grant revoked")
	}
	granted, _ := oauth.ParseScopes(rt.Scopes)
	scopes := granted
	if req.ScopeSet {
		asked, ok := oauth.ParseScopes(req.Scope)
		// RFC 6749 §6: the scope "MUST NOT include any scope not
		// originally granted".
		if !ok || !asked.SubsetOf(granted) {
			return nil, oauth.New(oauth.ErrInvalidScope, "scope exceeds the original grant")
		}
		scopes = asked
	}
	is := &Issue{
		Subject: g.Subject, Scopes: scopes, GrantID: g.ID, AuthTime: g.AuthTime,
		IDToken: scopes.Has(oauth.ScopeOpenID) && g.Subject != g.ClientID,
	}
	switch {
	case !p.RotateRefreshTokens:
		is.RefreshToken = req.RefreshToken
	case rt.RotatedAt != nil:
		// Within the grace window: the client lost the previous response.
		// Issue a fresh successor rather than re-rotating the old token.
		is.IssueRefresh = true
	default:
		is.IssueRefresh = true
		is.RotateFrom = hash
	}
	return is, nil
}
